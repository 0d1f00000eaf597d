/**
 * The inputs of the XML fuzz suite, by category, generated lazily from a
 * seed: random bytes and text, XML soups, mutations and truncations of real
 * WeCom documents, nesting, many elements, entity and CDATA tricks, and
 * inputs of 1 MiB.
 *
 * @example Usage
 * ```ts
 * import { inputs } from "./xml_inputs.ts";
 * const [category, input] = inputs(42).next().value!;
 * console.assert(category === "random bytes" && typeof input === "string");
 * ```
 *
 * @module
 */

import * as gen from "./generate.ts";

/** Real WeCom documents the mutations start from. */
export const SAMPLES = [
  "<xml><ToUserName><![CDATA[ww1]]></ToUserName><Encrypt><![CDATA[P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>",
  gen.messageXml({ corpId: "ww1", userId: "lisi", agentId: "1000002", content: "你好 <b> & ]]>" }),
  '<?xml version="1.0"?><xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1409659813</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[batch_job_result]]></Event><BatchJob><JobId><![CDATA[S0MrnndvRG5fadSlLwiBqiDDbM143UqTmKP3152FZk4]]></JobId><JobType><![CDATA[sync_user]]></JobType><ErrCode>0</ErrCode><ErrMsg><![CDATA[ok]]></ErrMsg></BatchJob></xml>',
  "<xml><ToUserName>ww1</ToUserName><FromUserName>lisi</FromUserName><CreateTime>1</CreateTime><MsgType>location</MsgType><Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y><Scale>20</Scale><Label><![CDATA[位置信息]]></Label><MsgId>1</MsgId><AgentID>1</AgentID><AppType><![CDATA[wxwork]]></AppType></xml>",
];

/** The inputs, by category, generated lazily (1 MiB ones included). */
export function* inputs(seed: number): Generator<[string, string]> {
  const root = gen.createRng(seed);
  let rng = root.fork("bytes");
  const latin1 = new TextDecoder("latin1");
  const utf8 = new TextDecoder();
  for (let i = 0; i < 2000; i++) {
    const bytes = gen.randomBytes(rng, 2048);
    yield ["random bytes", i % 2 ? latin1.decode(bytes) : utf8.decode(bytes)];
  }
  rng = root.fork("printable");
  for (let i = 0; i < 2000; i++) yield ["random printable", gen.randomPrintable(rng, 2048)];
  rng = root.fork("unicode");
  for (let i = 0; i < 500; i++) yield ["random unicode", gen.randomUnicode(rng, 512)];
  rng = root.fork("soup");
  for (let i = 0; i < 2500; i++) yield ["xml soup", gen.xmlSoup(rng, 80)];
  rng = root.fork("mutated");
  for (let i = 0; i < 2000; i++) {
    const base = i % 5 === 4 ? gen.wellFormedDocument(rng).xml : rng.pick(SAMPLES);
    yield ["mutated", gen.mutate(rng, base)];
  }
  for (const sample of SAMPLES) {
    for (const prefix of gen.truncations(sample)) yield ["truncated", prefix];
  }
  rng = root.fork("nesting");
  const depths = [
    ...Array.from({ length: 12 }, (_, i) => i + 1),
    16,
    100,
    1000,
    10_000,
    100_000,
    ...Array.from({ length: 40 }, () => rng.between(1, 10_000)),
  ];
  for (const depth of depths) {
    for (const style of ["closed", "unclosed", "self-closing", "mismatched"] as const) {
      yield ["nesting", gen.nestedXml(depth, style)];
    }
  }
  for (const count of [0, 1, 1000, 1998, 1999, 2000, 2001, 10_000, 100_000]) {
    yield ["many elements", gen.manyElements(count)];
    yield ["many elements", gen.manyElements(count, "AAAA", true)];
  }
  for (const document of gen.entityDocuments()) yield ["entities", document];
  for (const document of gen.cdataDocuments()) yield ["cdata", document];
  for (const document of gen.structureDocuments()) yield ["structure", document];
  const MiB = 1024 * 1024;
  const huge: string[] = [
    gen.hugeField("Encrypt", MiB),
    gen.hugeField("Encrypt", MiB, { cdata: true }),
    gen.hugeField("ToUserName", MiB, { fill: "中" }),
    `<xml><!--${"-".repeat(MiB)}--><A>1</A></xml>`,
    `<xml><!--${"x".repeat(MiB)}`,
    `<xml><![CDATA[${"]".repeat(MiB)}`,
    `<xml><A>${"&amp;".repeat(200_000)}</A></xml>`,
    `<xml><A>${"&".repeat(MiB)}</A></xml>`,
    `<xml><A>${"&#1114111;".repeat(100_000)}</A></xml>`,
    `<xml>${"<!---->".repeat(150_000)}</xml>`,
    `<xml><A>${"x<!---->".repeat(130_000)}</A></xml>`,
    `<xml><A>${"<![CDATA[x]]>".repeat(80_000)}</A></xml>`,
    "<".repeat(MiB),
    "<a".repeat(MiB / 2),
    "<a>".repeat(MiB / 3),
    "</a>".repeat(MiB / 4),
    `<xml>${"<a/>".repeat(MiB / 4)}</xml>`,
    `<xml><A ${'b="1" '.repeat(MiB / 6)}>x</A></xml>`,
    `<xml><A ${" ".repeat(MiB)}b>x</A></xml>`,
    `<xml><A${" ".repeat(MiB)}>x</A></xml>`,
    `<xml><A b="${"x".repeat(MiB)}>x</A></xml>`,
    `<xml><${"N".repeat(MiB)}>x</${"N".repeat(MiB)}></xml>`,
    `<xml><${"N".repeat(60_000)}>${"<a/>".repeat(1990)}</${"N".repeat(60_000)}></xml>`,
    `<?xml${" ".repeat(MiB)}`,
    `\ufeff${" ".repeat(MiB)}<xml/>`,
    `<xml>${"x".repeat(MiB)}`,
    `<xml></xml>${"<!---->".repeat(100_000)}`,
    `<xml></xml>${" ".repeat(MiB)}x`,
  ];
  for (const document of huge) yield ["huge", document];
}
