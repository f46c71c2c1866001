import { describe, expect, it } from "vitest";
import { parseContentRange, rangeLength } from "./content-range.js";

describe("parseContentRange", () => {
  it.each([
    ["bytes 0-262143/*", { kind: "bytes", first: 0, last: 262143, total: undefined }],
    ["bytes 262144-300000/300001", { kind: "bytes", first: 262144, last: 300000, total: 300001 }],
    ["bytes */*", { kind: "query", total: undefined }],
    ["bytes */0", { kind: "query", total: 0 }],
    ["bytes */524288", { kind: "query", total: 524288 }],
  ])("%s", (header, range) => {
    expect(parseContentRange(header)).toEqual(range);
  });

  it.each(["bytes 5-4/*", "bytes 0-10/10", "bytes=0-1/2", "bytes 0-/5", "bytes -1-2/*", "bytes 0-1", "", "bytes 99999999999999999999-1/*"])(
    "refuses %j",
    (header) => {
      expect(parseContentRange(header)).toBeUndefined();
    },
  );

  it("measures the body a range announces", () => {
    expect(rangeLength(parseContentRange("bytes 10-19/*")!)).toBe(10);
    expect(rangeLength(parseContentRange("bytes */7")!)).toBe(0);
  });
});
