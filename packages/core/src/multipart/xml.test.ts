import { describe, expect, it } from "vitest";
import { completeBody, elementText, escapeXml, parseListParts, unescapeXml, xmlError } from "./xml.js";

describe("xml", () => {
  it("escapes and unescapes the named entities and numeric references", () => {
    expect(escapeXml(`a<b>&"c'`)).toBe("a&lt;b&gt;&amp;&quot;c&apos;");
    expect(unescapeXml("&quot;x&quot; &#65;&#x42; &bogus;")).toBe('"x" AB &bogus;');
  });

  it("reads elements with or without a namespace prefix", () => {
    expect(elementText('<s:InitiateMultipartUploadResult xmlns:s="x"><s:UploadId> id&amp;1 </s:UploadId></s:InitiateMultipartUploadResult>', "UploadId")).toBe("id&1");
    expect(elementText("<A><B>1</B></A>", "C")).toBeUndefined();
  });

  it("parses ListPartsResult pages, and says what is wrong with a malformed one", () => {
    const page = parseListParts(
      "<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>2</NextPartNumberMarker><Part><PartNumber>1</PartNumber><ETag>&quot;a&quot;</ETag><Size>5</Size></Part><Part><PartNumber>2</PartNumber><ETag>\"b\"</ETag><Size>6</Size></Part></ListPartsResult>",
    );
    expect(page).toEqual({ parts: [{ partNumber: 1, etag: '"a"', size: 5 }, { partNumber: 2, etag: '"b"', size: 6 }], nextMarker: 2 });
    expect(parseListParts("<ListPartsResult><IsTruncated>false</IsTruncated></ListPartsResult>")).toEqual({ parts: [], nextMarker: undefined });
    expect(parseListParts("<Other/>")).toMatch(/ListPartsResult/);
    expect(parseListParts("<ListPartsResult><Part><PartNumber>x</PartNumber></Part></ListPartsResult>")).toMatch(/PartNumber, an ETag and a Size/);
    expect(parseListParts("<ListPartsResult><IsTruncated>true</IsTruncated></ListPartsResult>")).toMatch(/NextPartNumberMarker/);
  });

  it("writes the complete body with escaped ETags and reads XML errors", () => {
    expect(completeBody([{ partNumber: 1, etag: '"e"' }])).toBe('<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;e&quot;</ETag></Part></CompleteMultipartUpload>');
    expect(xmlError("<Error><Code>NoSuchUpload</Code><Message>gone</Message></Error>")).toEqual({ code: "NoSuchUpload", message: "gone" });
    expect(xmlError('{"error":{}}')).toEqual({});
  });
});
