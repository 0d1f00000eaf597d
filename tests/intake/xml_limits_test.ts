/**
 * Regression tests found by the fuzz suite (tests/fuzz/): element names are
 * bounded, so a long-named parent with many children cannot make the reader
 * build gigabytes of paths (it took 5 s per 68 KB request before the bound);
 * entities are decoded by a scan that stops at the first bad one; names of
 * Object.prototype members are not entities.
 *
 * @module
 */

import assert from "node:assert/strict";
import { readXmlFields, XmlError } from "../../src/intake/xml.ts";

Deno.test("readXmlFields accepts element names of 128 characters and refuses longer ones", () => {
  const name = "N".repeat(128);
  assert.deepEqual(Object.fromEntries(readXmlFields(`<xml><${name}>x</${name}></xml>`)), {
    [name]: "x",
  });
  const longer = "N".repeat(129);
  assert.throws(() => readXmlFields(`<xml><${longer}>x</${longer}></xml>`), XmlError);
  assert.throws(() => readXmlFields(`<${longer}><A>x</A></${longer}>`), /longer than 128/);
});

Deno.test("readXmlFields stays fast on a long-named parent with 1990 children (path amplification)", () => {
  const name = "N".repeat(30_000);
  const amplified = `<xml><${name}>${"<a/>".repeat(1990)}</${name}></xml>`;
  let began = performance.now();
  assert.throws(() => readXmlFields(amplified), XmlError);
  assert.ok(performance.now() - began < 200, `took ${performance.now() - began} ms`);
  // The worst accepted shape: 8 levels of 128-character names around 1990 leaves.
  const names = Array.from({ length: 8 }, (_, i) => String.fromCharCode(65 + i).repeat(128));
  const worst = "<xml>" + names.slice(0, 7).map((n) => `<${n}>`).join("") +
    `<${names[7]}/>`.repeat(1990) + names.slice(0, 7).reverse().map((n) => `</${n}>`).join("") +
    "</xml>";
  began = performance.now();
  assert.ok(readXmlFields(worst).size === 1990);
  assert.ok(performance.now() - began < 500, `took ${performance.now() - began} ms`);
});

Deno.test("readXmlFields refuses entities named like Object.prototype members", () => {
  for (const name of ["toString", "valueOf", "__proto__"]) {
    assert.throws(() => readXmlFields(`<xml><A>&${name};</A></xml>`), XmlError, name);
  }
  assert.deepEqual(Object.fromEntries(readXmlFields("<xml><A>&lt;&#x41;&#66;&amp;</A></xml>")), {
    A: "<AB&",
  });
});

Deno.test("readXmlFields stops at the first bad '&' without scanning the rest (1 MiB of '&')", () => {
  const ampersands = `<xml><A>${"&".repeat(1024 * 1024)}</A></xml>`;
  const began = performance.now();
  assert.throws(() => readXmlFields(ampersands), /'&' that starts no entity at character 8/);
  assert.ok(performance.now() - began < 100, `took ${performance.now() - began} ms`);
});
