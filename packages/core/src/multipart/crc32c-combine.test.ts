import { crc32c } from "@node-rs/crc32";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { combineCrc32c } from "./crc32c-combine.js";

describe("combineCrc32c", () => {
  it("gives the CRC32C of a concatenation from the pieces' values", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 3000 }), (a, b) => {
        const joined = new Uint8Array([...a, ...b]);
        expect(combineCrc32c(crc32c(a), crc32c(b), b.length)).toBe(crc32c(joined) >>> 0);
      }),
      { numRuns: 300 },
    );
  });

  it("stays consistent for pieces of gigabytes (lengths beyond 2^32 bits): combining is associative", () => {
    // Correct for small pieces (above) and associative for huge ones means the x^(8n) arithmetic
    // does not overflow: a 32-bit shift of the bit count would break associativity.
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.integer({ min: 1, max: 2 ** 40 }), fc.integer({ min: 1, max: 2 ** 40 }), (a, b, c, nB, nC) => {
        const left = combineCrc32c(combineCrc32c(a, b, nB), c, nC);
        const right = combineCrc32c(a, combineCrc32c(b, c, nC), nB + nC);
        expect(left).toBe(right);
      }),
      { numRuns: 300 },
    );
  });

  it("is the identity for an empty second piece", () => {
    expect(combineCrc32c(0xdeadbeef, 0, 0)).toBe(0xdeadbeef);
  });
});
