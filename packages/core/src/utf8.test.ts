import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeUtf8, encodeUtf8, hasLoneSurrogate, utf8Length } from "./utf8.js";

describe("utf8", () => {
  it("encodes like TextEncoder, lone surrogates included", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        const expected = new TextEncoder().encode(text);
        expect(encodeUtf8(text)).toEqual(expected);
        expect(utf8Length(text)).toBe(expected.length);
      }),
    );
    expect(encodeUtf8("\ud800x")).toEqual(new TextEncoder().encode("\ud800x"));
  });

  it("decodes like TextDecoder (replacement characters for malformed input)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(decodeUtf8(bytes)).toBe(new TextDecoder().decode(bytes));
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (text) => {
        expect(decodeUtf8(encodeUtf8(text))).toBe(text);
      }),
    );
  });

  it("finds lone surrogates", () => {
    expect(hasLoneSurrogate("ok 😀")).toBe(false);
    expect(hasLoneSurrogate("\ud83d")).toBe(true);
    expect(hasLoneSurrogate("\ude00x")).toBe(true);
    expect(hasLoneSurrogate("a\ud83dz")).toBe(true);
  });
});
