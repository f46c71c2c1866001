import { describe, expect, it } from "vitest";
import { patternBytes, patternChunks, patternChunksAsync, stampedBlocks, stampedBytes } from "./index.js";
import { crc32cBase64, md5Base64, nodeChecksums, patternCrc32cBase64 } from "./node.js";

function concat(parts: Iterable<Uint8Array>): Uint8Array {
  const list = [...parts];
  const out = new Uint8Array(list.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of list) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

describe("patternBytes", () => {
  it("is deterministic per seed and differs between nearby seeds", () => {
    expect(patternBytes(1000, 3)).toEqual(patternBytes(1000, 3));
    const [a, b] = [patternBytes(64, 1), patternBytes(64, 2)];
    let same = 0;
    for (let i = 0; i < 64; i += 1) if (a[i] === b[i]) same += 1;
    expect(same).toBeLessThan(8);
  });

  it("has the requested length, including lengths that are not a multiple of 4, and 0", () => {
    for (const length of [0, 1, 2, 3, 5, 1023]) expect(patternBytes(length).byteLength).toBe(length);
    expect(patternBytes(7, 9)).toEqual(patternBytes(8, 9).subarray(0, 7));
  });

  it("refuses a negative or fractional length", () => {
    expect(() => patternBytes(-1)).toThrow(RangeError);
    expect(() => patternBytes(1.5)).toThrow(RangeError);
  });
});

describe("patternChunks", () => {
  it("yields the same stream as patternBytes, in fresh chunks of the size asked", () => {
    const chunks = [...patternChunks(100_003, { seed: 5, chunkSize: 4096 })];
    expect(chunks.slice(0, -1).every((c) => c.byteLength === 4096)).toBe(true);
    expect(new Set(chunks.map((c) => c.buffer)).size).toBe(chunks.length);
    expect(concat(chunks)).toEqual(patternBytes(100_003, 5));
  });

  it("starts anywhere with `from`, mid-chunk included", () => {
    const whole = patternBytes(50_000, 7);
    for (const from of [0, 1, 4096, 10_001, 49_999, 50_000]) {
      expect(concat(patternChunks(50_000, { seed: 7, chunkSize: 4096, from }))).toEqual(whole.subarray(from));
    }
  });

  it("has an async form with the same bytes", async () => {
    const parts: Uint8Array[] = [];
    for await (const part of patternChunksAsync(9000, { seed: 2, chunkSize: 1024 })) parts.push(part);
    expect(concat(parts)).toEqual(patternBytes(9000, 2));
  });

  it("refuses a chunk size that would break the word stream", () => {
    expect(() => [...patternChunks(10, { chunkSize: 3 })]).toThrow(RangeError);
  });
});

describe("stampedBlocks", () => {
  it("copies one block and stamps each with its index, so no two blocks are alike", () => {
    const blocks = [...stampedBlocks(3 * 1024 + 10, { blockSize: 1024, seed: 4 })];
    expect(blocks.map((b) => b.byteLength)).toEqual([1024, 1024, 1024, 10]);
    const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
    expect(blocks.map((b) => view(b).getBigUint64(0, true))).toEqual([0n, 1n, 2n, 3n]);
    expect(blocks[1]!.subarray(8)).toEqual(patternBytes(1024, 4).subarray(8));
    expect(blocks[0]).not.toEqual(blocks[1]);
    expect(stampedBytes(3 * 1024 + 10, { blockSize: 1024, seed: 4 })).toEqual(concat(blocks));
  });
});

describe("native checksums", () => {
  it("match GCS's published values for a known input", () => {
    // The CRC32C check value of "123456789" is 0xE3069283; MD5 of "" is d41d8cd98f00b204e9800998ecf8427e.
    const digits = new TextEncoder().encode("123456789");
    expect(Buffer.from(crc32cBase64(digits), "base64").toString("hex")).toBe("e3069283");
    expect(Buffer.from(md5Base64(new Uint8Array(0)), "base64").toString("hex")).toBe("d41d8cd98f00b204e9800998ecf8427e");
  });

  it("continue from a prefix's CRC, and stream a pattern's CRC without holding it", () => {
    const bytes = patternBytes(300_000, 11);
    const crc = nodeChecksums.crc32c();
    crc.update(bytes.subarray(0, 1000));
    const resumed = nodeChecksums.crc32c(crc.value());
    resumed.update(bytes.subarray(1000));
    expect(Buffer.from(resumed.digest()).toString("base64")).toBe(crc32cBase64(bytes));
    expect(patternCrc32cBase64(300_000, { seed: 11, chunkSize: 4096 })).toBe(crc32cBase64(bytes));
  });

  it("clone independent states (CRC32C and MD5)", () => {
    const md5 = nodeChecksums.md5();
    md5.update(new Uint8Array([1, 2, 3]));
    const copy = md5.clone();
    copy.update(new Uint8Array([4]));
    expect(Buffer.from(md5.digest()).toString("base64")).toBe(md5Base64(new Uint8Array([1, 2, 3])));
    expect(Buffer.from(copy.digest()).toString("base64")).toBe(md5Base64(new Uint8Array([1, 2, 3, 4])));
    const crc = nodeChecksums.crc32c();
    crc.update(new Uint8Array([9]));
    const crcCopy = crc.clone();
    crcCopy.update(new Uint8Array([9]));
    expect(crc.value()).not.toBe(crcCopy.value());
  });
});
