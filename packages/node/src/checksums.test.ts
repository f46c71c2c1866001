import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { nodeChecksums } from "./checksums.js";

describe("nodeChecksums", () => {
  it("computes the standard CRC32C check value and resumes from a saved state", () => {
    const crc = nodeChecksums.crc32c();
    crc.update(new TextEncoder().encode("123456789"));
    expect(crc.value()).toBe(0xe3069283);
    const half = nodeChecksums.crc32c();
    half.update(new TextEncoder().encode("12345"));
    const resumed = nodeChecksums.crc32c(half.value());
    resumed.update(new TextEncoder().encode("6789"));
    expect(resumed.value()).toBe(0xe3069283);
    expect(Buffer.from(resumed.digest()).toString("hex")).toBe("e3069283");
  });

  it("clones CRC32C and MD5 without disturbing the original", () => {
    const md5 = nodeChecksums.md5();
    md5.update(Buffer.from("abc"));
    const copy = md5.clone();
    copy.update(Buffer.from("def"));
    expect(Buffer.from(md5.digest()).toString("hex")).toBe(createHash("md5").update("abc").digest("hex"));
    expect(Buffer.from(copy.digest()).toString("hex")).toBe(createHash("md5").update("abcdef").digest("hex"));
    // digest() leaves the hash running.
    md5.update(Buffer.from("def"));
    expect(Buffer.from(md5.digest()).toString("hex")).toBe(createHash("md5").update("abcdef").digest("hex"));
  });
});
