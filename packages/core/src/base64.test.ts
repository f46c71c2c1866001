import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeBase64, encodeBase64 } from "./base64.js";

describe("base64", () => {
  it("matches Node's encoder and round-trips", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const text = encodeBase64(bytes);
        expect(text).toBe(Buffer.from(bytes).toString("base64"));
        expect(decodeBase64(text)).toEqual(bytes);
      }),
    );
  });

  it("refuses what is not standard padded base64", () => {
    for (const bad of ["A", "AAA", "AA=A", "A===", "AA-_", "AAAA=", "é===", "AA==AA=="]) expect(decodeBase64(bad), bad).toBeUndefined();
    expect(decodeBase64("")).toEqual(new Uint8Array(0));
  });
});
