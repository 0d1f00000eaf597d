import assert from "node:assert/strict";
import { readXmlFields, XmlError } from "../../src/intake/xml.ts";

Deno.test("readXmlFields reads CDATA and plain text, with whitespace and newlines between elements", () => {
  const fields = readXmlFields(
    "<xml>\n  <ToUserName><![CDATA[ww1]]></ToUserName>\r\n\t<AgentID>1000002</AgentID>\n" +
      "<Encrypt><![CDATA[a+b/c==]]></Encrypt>\n</xml>\n",
  );
  assert.deepEqual(Object.fromEntries(fields), {
    ToUserName: "ww1",
    AgentID: "1000002",
    Encrypt: "a+b/c==",
  });
});

Deno.test("readXmlFields decodes the predefined entities and numeric references only", () => {
  const fields = readXmlFields("<xml><A>&lt;b&gt; &amp; &quot;&apos; &#20320;&#x597D;</A></xml>");
  assert.equal(fields.get("A"), `<b> & "' 你好`);
  assert.throws(() => readXmlFields("<xml><A>&nbsp;</A></xml>"), XmlError);
  assert.throws(() => readXmlFields("<xml><A>&#0;</A></xml>"), XmlError);
  assert.throws(() => readXmlFields("<xml><A>a & b</A></xml>"), XmlError);
});

Deno.test("readXmlFields keeps CDATA content literally (no entity decoding inside)", () => {
  assert.equal(readXmlFields("<xml><A><![CDATA[&lt; <b> ]]></A></xml>").get("A"), "&lt; <b> ");
});

Deno.test("readXmlFields refuses DOCTYPE, entity declarations and processing instructions", () => {
  const bomb =
    `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>` +
    `<xml><A>&lol2;</A></xml>`;
  assert.throws(() => readXmlFields(bomb), /DOCTYPE/);
  assert.throws(() => readXmlFields(`<!DOCTYPE x SYSTEM "file:///etc/passwd"><xml/>`), XmlError);
  assert.throws(() => readXmlFields(`<xml><?php echo 1 ?><A>1</A></xml>`), XmlError);
  assert.throws(() => readXmlFields(`<xml><!ENTITY x "y"><A>1</A></xml>`), XmlError);
});

Deno.test("readXmlFields flattens nested elements and numbers repeated names", () => {
  const fields = readXmlFields(
    "<xml><BatchJob><JobId>j1</JobId><ErrCode>0</ErrCode></BatchJob>" +
      "<PicList><item><Md5>a</Md5></item><item><Md5>b</Md5></item></PicList></xml>",
  );
  assert.equal(fields.get("BatchJob.JobId"), "j1");
  assert.equal(fields.get("PicList.item.Md5"), "a");
  assert.equal(fields.get("PicList.item.Md5#2"), "b");
  assert.equal(fields.has("BatchJob"), false);
});

Deno.test("readXmlFields rejects malformed documents with XmlError", () => {
  const bad = [
    "",
    "not xml",
    "<xml><A>1</B></xml>",
    "<xml><A>1</A>",
    "<xml><A><![CDATA[1</A></xml>",
    "<xml><A>1</A></xml><xml/>",
    "<xml><1A>1</1A></xml>",
    "<xml><A x=1>1</A></xml>",
    "<xml>text<A>1</A></xml>",
    "<xml><!-- unterminated </xml>",
    "<" + "a>".repeat(1) + "<b>".repeat(20) + "</b>".repeat(20) + "</a>",
  ];
  for (const input of bad) {
    assert.throws(() => readXmlFields(input), XmlError, JSON.stringify(input));
  }
});

Deno.test("readXmlFields bounds the element count", () => {
  const many = "<xml>" + "<A>1</A>".repeat(5000) + "</xml>";
  assert.throws(() => readXmlFields(many), /more than/);
});

Deno.test("readXmlFields accepts a BOM, a declaration, comments, attributes and self-closing tags", () => {
  const fields = readXmlFields(
    `\uFEFF<?xml version="1.0" encoding="UTF-8"?><!-- hi --><xml a="1"><A/><B c='2'>x</B></xml>`,
  );
  assert.deepEqual(Object.fromEntries(fields), { A: "", B: "x" });
});
