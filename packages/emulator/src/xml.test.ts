import { describe, expect, it } from "vitest";
import { XmlSyntaxError, parseXml, xmlDocument } from "./xml.js";

describe("parseXml", () => {
  it("reads a CompleteMultipartUpload document with a declaration, a namespace, entities and whitespace", () => {
    const root = parseXml(
      `<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\n` +
        `  <Part><PartNumber>1</PartNumber><ETag>&quot;a&amp;b&#65;&#x42;&quot;</ETag></Part>\n  <Part/>\n</CompleteMultipartUpload>`,
    );
    expect(root.name).toBe("CompleteMultipartUpload");
    expect(root.attributes).toEqual({ xmlns: "http://s3.amazonaws.com/doc/2006-03-01/" });
    expect(root.text).toBe("");
    expect(root.children.map((part) => part.children.map((field) => [field.name, field.text]))).toEqual([
      [
        ["PartNumber", "1"],
        ["ETag", '"a&bAB"'],
      ],
      [],
    ]);
  });

  it.each([
    ["", "expected"],
    ["<a>", "unclosed"],
    ["<a></b>", "closes"],
    ["<a>x<b/></a>", "mixes text"],
    ["<a><!-- c --></a>", "comments"],
    ['<!DOCTYPE a SYSTEM "x"><a/>', "expected"],
    ["<a><![CDATA[x]]></a>", "CDATA"],
    ["<a>&nbsp;</a>", "unknown entity"],
    ["<a>R&D</a>", "bare &"],
    ["<a/><b/>", "after the root"],
    ['<a x="1" x="2"/>', "duplicate attribute"],
    ['<a x="1"y="2"/>', "whitespace before an attribute"],
  ])("refuses %j", (text, message) => {
    expect(() => parseXml(text)).toThrow(XmlSyntaxError);
    expect(() => parseXml(text)).toThrow(message);
  });
});

describe("xmlDocument", () => {
  it("writes the declaration, the S3 namespace, repeated elements and escaped text", () => {
    const text = xmlDocument("ListPartsResult", { Bucket: "b", Key: "a<&>'\"", Part: [{ PartNumber: 1 }, { PartNumber: 2 }], Missing: undefined, IsTruncated: false });
    expect(text).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket>' +
        "<Key>a&lt;&amp;&gt;&apos;&quot;</Key><Part><PartNumber>1</PartNumber></Part><Part><PartNumber>2</PartNumber></Part>" +
        "<IsTruncated>false</IsTruncated></ListPartsResult>",
    );
    // What we write, we read back.
    expect(parseXml(text).children.find((child) => child.name === "Key")?.text).toBe("a<&>'\"");
  });
});
