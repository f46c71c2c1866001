import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32cCombine, crc32cRemainder } from "./crc32c-combine.js";
import { crc32c } from "./test-support/crc32c.js";

const join = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};

describe("crc32cCombine / crc32cRemainder", () => {
  it("the CRC32C of A‖B from those of A and B and B's length, and B's back from A‖B's and A's", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (a, b) => {
        const ab = crc32c(join(a, b));
        expect(crc32cCombine(crc32c(a), crc32c(b), b.length)).toBe(ab);
        expect(crc32cRemainder(ab, crc32c(a), b.length)).toBe(crc32c(b));
      }),
    );
  });

  it("holds for long lengths too (the known check value, and a MiB of zeros after it)", () => {
    const nine = new TextEncoder().encode("123456789");
    expect(crc32c(nine)).toBe(0xe3069283);
    const zeros = new Uint8Array(1024 * 1024 + 3);
    expect(crc32cCombine(crc32c(nine), crc32c(zeros), zeros.length)).toBe(crc32c(join(nine, zeros)));
    // Same length twice (the cached operator), then another.
    expect(crc32cCombine(0x12345678, crc32c(zeros), zeros.length)).toBe(crc32cCombine(0x12345678, crc32c(zeros), zeros.length));
    expect(crc32cCombine(crc32c(zeros), crc32c(nine), nine.length)).toBe(crc32c(join(zeros, nine)));
    expect(crc32cCombine(0xdeadbeef, 0, 0)).toBe(0xdeadbeef);
    expect(crc32cRemainder(crc32c(nine), crc32c(nine), 0)).toBe(0);
  });
});
