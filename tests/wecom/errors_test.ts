import assert from "node:assert/strict";
import {
  classifyErrcode,
  explainErrcode,
  NO_ERRCODE,
  redactUrlSecrets,
  WeComApiError,
} from "../../src/wecom/errors.ts";

Deno.test("classifyErrcode sorts errcodes by what the caller must do", () => {
  const table: Array<[number, string]> = [
    [40014, "token_invalid"],
    [42001, "token_invalid"],
    [41001, "token_invalid"],
    [-1, "retry"],
    [45009, "retry"],
    [45033, "retry"],
    [40001, "credentials"],
    [40013, "credentials"],
    [40091, "credentials"],
    [60020, "ip_not_trusted"],
    [81013, "permanent"],
    [60011, "permanent"],
    [40003, "permanent"],
    [40056, "permanent"],
    [301002, "permanent"],
    [44004, "permanent"],
    [45002, "permanent"],
    [48002, "permanent"],
    [40058, "permanent"],
    [99999, "permanent"],
  ];
  for (const [errcode, kind] of table) assert.equal(classifyErrcode(errcode), kind, `${errcode}`);
});

Deno.test("explainErrcode tells the operator what to fix", () => {
  assert.match(explainErrcode(40001), /corp_secret/);
  assert.match(explainErrcode(40001), /disabled/);
  assert.match(explainErrcode(40001), /IP banned .* an hour/);
  assert.match(explainErrcode(40013), /corp_id/);
  assert.match(explainErrcode(40056), /agent_id/);
  assert.match(explainErrcode(301002), /agent_id/);
  assert.match(explainErrcode(60020), /企业可信IP \(trusted IPs\)/);
  assert.match(explainErrcode(60020), /about a minute/);
  for (const code of [60011, 81013, 40003]) assert.match(explainErrcode(code), /visible range/);
  for (const code of [45009, 45033, -1]) assert.match(explainErrcode(code), /retried/);
  for (const code of [42001, 40014, 41001]) assert.match(explainErrcode(code), /refetched/);
  assert.match(explainErrcode(45002), /2048/);
  assert.match(explainErrcode(123456), /devtool\/query\?e=123456/);
});

Deno.test("WeComApiError carries the fields a caller needs and judges by errcode", () => {
  const error = new WeComApiError({
    api: "message/send",
    errcode: 60020,
    errmsg: "not allow to access from your ip, hint: [x], from ip: 203.0.113.7, more info at …",
  });
  assert.equal(error.name, "WeComApiError");
  assert.equal(error.kind, "ip_not_trusted");
  assert.equal(error.retryable, false);
  assert.match(error.message, /^WeCom message\/send failed with errcode 60020: /);
  assert.match(error.message, /WeCom saw this server's IP as 203\.0\.113\.7/);

  // A misleading errmsg does not change the classification.
  const busy = new WeComApiError({ api: "gettoken", errcode: -1, errmsg: "invalid secret" });
  assert.equal(busy.kind, "retry");
  assert.equal(busy.retryable, true);
  assert.doesNotMatch(busy.message, /corp_secret/);

  const network = new WeComApiError({
    api: "message/send",
    errcode: NO_ERRCODE,
    errmsg: "error sending request for url (https://x/cgi-bin/message/send?access_token=SECRET)",
    kind: "network",
    message: "failed: https://x/?access_token=SECRET&debug=1",
  });
  assert.equal(network.retryable, true);
  assert.ok(!network.message.includes("SECRET"));
  assert.ok(!network.errmsg.includes("SECRET"));
});

Deno.test("redactUrlSecrets removes access tokens and secrets from URLs", () => {
  assert.equal(
    redactUrlSecrets("GET https://q/cgi-bin/gettoken?corpid=ww1&corpsecret=abc-DEF_123 (x)"),
    "GET https://q/cgi-bin/gettoken?corpid=ww1&corpsecret=[redacted] (x)",
  );
  assert.equal(
    redactUrlSecrets("url (https://q/send?ACCESS_TOKEN=tok%2Bx): closed"),
    "url (https://q/send?ACCESS_TOKEN=[redacted]): closed",
  );
});
