import { describe, expect, it } from "vitest";
import { parseContentRange, rangeLength } from "./content-range.js";

describe("parseContentRange", () => {
  it.each([
    ["bytes 0-262143/*", { kind: "bytes", first: 0, last: 262143, total: undefined }],
    ["bytes 262144-300000/300001", { kind: "bytes", first: 262144, last: 300000, total: 300001 }],
    ["bytes */*", { kind: "query", total: undefined }],
    ["bytes */0", { kind: "query", total: 0 }],
    ["bytes */524288", { kind: "query", total: 524288 }],
    ["bytes 0-*/*", { kind: "open", first: 0, total: undefined }],
    ["bytes 262144-*/*", { kind: "open", first: 262144, total: undefined }],
    ["bytes 262144-*/300000", { kind: "open", first: 262144, total: 300000 }],
    ["bytes 5-*/5", { kind: "open", first: 5, total: 5 }],
  ])("%s", (header, range) => {
    expect(parseContentRange(header)).toEqual(range);
  });

  it.each(["bytes 5-4/*", "bytes 0-10/10", "bytes=0-1/2", "bytes 0-/5", "bytes -1-2/*", "bytes 0-1", "bytes 6-*/5", "bytes *-*/*", "bytes 0-*", "", "bytes 99999999999999999999-1/*"])(
    "refuses %j",
    (header) => {
      expect(parseContentRange(header)).toBeUndefined();
    },
  );

  it("measures the body a range announces", () => {
    expect(rangeLength(parseContentRange("bytes 10-19/*")!)).toBe(10);
    expect(rangeLength(parseContentRange("bytes */7")!)).toBe(0);
    expect(rangeLength(parseContentRange("bytes 4-*/10")!)).toBe(6);
    expect(rangeLength(parseContentRange("bytes 4-*/*")!)).toBeUndefined();
  });
});
