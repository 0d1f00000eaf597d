import assert from "node:assert/strict";
import { editDistance, suggest } from "../../src/config/suggest.ts";

const KEYS = ["corp_id", "corp_secret", "agent_id", "token", "encoding_aes_key", "port", "path"];

Deno.test("edit distance counts a swap of neighbours as one edit", () => {
  assert.equal(editDistance("port", "port"), 0);
  assert.equal(editDistance("prot", "port"), 1);
  assert.equal(editDistance("tokn", "token"), 1);
  assert.equal(editDistance("", "abc"), 3);
});

Deno.test("suggest finds other spellings, aliases and near misses", () => {
  assert.equal(suggest("CorpSecret", KEYS), "corp_secret");
  assert.equal(suggest("encoding-aes-key", KEYS), "encoding_aes_key");
  assert.equal(suggest("aeskey", KEYS, { aeskey: "encoding_aes_key" }), "encoding_aes_key");
  assert.equal(suggest("agnet_id", KEYS), "agent_id");
  assert.equal(suggest("encodng_aes_ky", KEYS), "encoding_aes_key");
});

Deno.test("suggest stays quiet when nothing is close", () => {
  assert.equal(suggest("colour", KEYS), undefined);
  assert.equal(suggest("max_turns", KEYS), undefined);
  assert.equal(suggest("pa", KEYS), undefined);
  assert.equal(suggest("", KEYS), undefined);
  // an alias to a key that is not in this section is not offered
  assert.equal(suggest("aeskey", ["port"], { aeskey: "encoding_aes_key" }), undefined);
});
