/**
 * The strict XML reader (`src/intake/xml.ts`) against `@libs/xml` (on npm as
 * `@lowlighter/xml`), the XML package the design names, on the documents a
 * callback carries: the encrypted envelope and a decrypted text message.
 * Bench-only dependency: the gateway itself does not import it.
 *
 * Before timing, it checks (and prints) how `@libs/xml` reads what a member
 * may type, since that decides whether it could replace the reader at all:
 * entities inside CDATA, leading whitespace, a DOCTYPE. A check that no
 * longer holds stops the benchmark, so the README's statements stay true.
 *
 * Run: `deno bench bench/xml_bench.ts` (or `deno task bench`)
 *
 * @example Usage
 * ```sh
 * deno bench --allow-read bench/xml_bench.ts
 * ```
 *
 * @module
 */

import { parse } from "@libs/xml"; // npm:@lowlighter/xml, bench only (deno.json)
import { readXmlFields, XmlError } from "../src/intake/xml.ts";

const envelope = "<xml><ToUserName><![CDATA[ww0123456789abcdef]]></ToUserName>" +
  `<Encrypt><![CDATA[${"A".repeat(344)}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>`;
const message = "<xml><ToUserName><![CDATA[ww0123456789abcdef]]></ToUserName>\n" +
  "<FromUserName><![CDATA[zhangsan]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n" +
  "<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[  R&amp;D: 1 < 2, 你好]]></Content>\n" +
  "<MsgId>4561255354251345929</MsgId>\n<AgentID>1000002</AgentID>\n</xml>";

/** What a member typed must reach the agent unchanged. */
function checkBehaviour(): void {
  const typed = "  R&amp;D: 1 < 2, 你好";
  const strict = readXmlFields(message).get("Content");
  const libs = (parse(message) as unknown as { xml: { Content: string } }).xml.Content;
  let strictDoctype = "accepted";
  try {
    readXmlFields('<!DOCTYPE x [<!ENTITY a "b">]><xml><A>&a;</A></xml>');
  } catch (error) {
    if (error instanceof XmlError) strictDoctype = "refused";
  }
  let libsDoctype = "refused";
  try {
    parse('<!DOCTYPE x [<!ENTITY a "b">]><xml><A>&a;</A></xml>');
    libsDoctype = "accepted";
  } catch {
    // refused
  }
  const rows = [
    ["member typed", JSON.stringify(typed)],
    ["strict reader", JSON.stringify(strict)],
    ["@libs/xml", JSON.stringify(libs)],
    ["DOCTYPE", `strict reader ${strictDoctype}, @libs/xml ${libsDoctype}`],
  ];
  console.log(rows.map(([name, value]) => `${name.padEnd(14)} ${value}`).join("\n"));
  if (strict !== typed) throw new Error("Cannot benchmark: the strict reader changed the text");
  if (libs === typed || libsDoctype !== "accepted" || strictDoctype !== "refused") {
    throw new Error(
      "Cannot benchmark as @libs/xml no longer behaves as the README says: update the README",
    );
  }
}
checkBehaviour();

Deno.bench("envelope: strict reader", { group: "envelope", baseline: true }, () => {
  readXmlFields(envelope);
});
Deno.bench("envelope: @libs/xml", { group: "envelope" }, () => {
  parse(envelope);
});
Deno.bench("text message: strict reader", { group: "message", baseline: true }, () => {
  readXmlFields(message);
});
Deno.bench("text message: @libs/xml", { group: "message" }, () => {
  parse(message);
});
