import { crc32c } from "@node-rs/crc32";
import { describe, expect, it } from "vitest";
import { crc32cCombine } from "./checksums.js";
import { bytes } from "./test-support/raw-http.js";

describe("crc32cCombine", () => {
  it.each([0, 1, 7, 256, 1000, 65_537, 5 * 1024 * 1024 + 3])("equals the CRC32C of the concatenation (B of %i bytes)", (lengthB) => {
    const a = bytes(1234, 3);
    const b = bytes(lengthB, 9);
    expect(crc32cCombine(crc32c(a), crc32c(b), b.length)).toBe(crc32c(Buffer.concat([a, b])) >>> 0);
  });

  it("chains over many parts, an empty first part included", () => {
    const parts = [Buffer.alloc(0), bytes(10, 1), bytes(300_000, 2), bytes(1, 3)];
    let combined = 0;
    for (const part of parts) combined = crc32cCombine(combined, crc32c(part), part.length);
    expect(combined).toBe(crc32c(Buffer.concat(parts)) >>> 0);
  });
});
