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

  it("handles pieces of gigabytes (lengths beyond 2^32 bits) the same as folding zeros in", () => {
    // crc(A‖Z) for Z = n zero bytes equals combine(crc(A), crc(Z), n); check one large n against a
    // directly computed CRC of 600 MiB of zeros.
    const zeros = new Uint8Array(600 * 1024 * 1024);
    const a = new Uint8Array([1, 2, 3, 4, 5]);
    const direct = crc32c(Buffer.from(zeros), crc32c(a));
    expect(combineCrc32c(crc32c(a), crc32c(Buffer.from(zeros)), zeros.length)).toBe(direct >>> 0);
  });

  it("is the identity for an empty second piece", () => {
    expect(combineCrc32c(0xdeadbeef, 0, 0)).toBe(0xdeadbeef);
  });
});
