import { describe, expect, it } from "vitest";
import { ChecksumLedger } from "./checksum-ledger.js";
import { bytesOf, crcB64, md5B64, nodeChecksums } from "./harness.test-utils.js";
import { crc32c } from "./test-support/crc32c.js";

const both = { crc32c: nodeChecksums.crc32c!, md5: nodeChecksums.md5! };

describe("ChecksumLedger", () => {
  it("running digests cover exactly the absorbed bytes; the finalize digest adds the tail on copies", () => {
    const content = bytesOf(1000);
    const ledger = new ChecksumLedger(both);
    ledger.absorb([content.subarray(0, 300), content.subarray(300, 600)]);
    expect(ledger.crc32cValue).toBe(crc32c(content.subarray(0, 600)));
    const digests = ledger.finalizeDigest([content.subarray(600)]);
    expect(Buffer.from(digests.crc32c!).toString("base64")).toBe(crcB64(content));
    expect(Buffer.from(digests.md5!).toString("base64")).toBe(md5B64(content));
    // The live state did not move: a rewind that resends the tail cannot count it twice.
    expect(ledger.crc32cValue).toBe(crc32c(content.subarray(0, 600)));
    expect(Buffer.from(ledger.finalizeDigest([content.subarray(600)]).crc32c!).toString("base64")).toBe(crcB64(content));
  });

  it("continues a checkpoint's CRC32C; MD5 is skipped after a non-zero offset (not portable)", () => {
    const content = bytesOf(500);
    const resumed = new ChecksumLedger(both, { offset: 200, crc32c: crc32c(content.subarray(0, 200)) });
    expect(resumed.md5Skipped).toBe(true);
    const digests = resumed.finalizeDigest([content.subarray(200)]);
    expect(Buffer.from(digests.crc32c!).toString("base64")).toBe(crcB64(content));
    expect(digests.md5).toBeUndefined();
    expect(new ChecksumLedger(both, { offset: 0 }).md5Skipped).toBe(false);
    expect(new ChecksumLedger({ crc32c: both.crc32c }, { offset: 200 }).md5Skipped).toBe(false);
  });

  it("verify: ok when every digest asked for matches", () => {
    const content = bytesOf(64);
    const ledger = new ChecksumLedger(both);
    ledger.absorb([content.subarray(0, 10)]);
    expect(ledger.verify({ crc32c: crcB64(content), md5Hash: md5B64(content) }, [content.subarray(10)])).toEqual({ ok: true });
  });

  it("verify: a differing digest is checksum-mismatch, naming ours and theirs", () => {
    const content = bytesOf(64);
    const ledger = new ChecksumLedger(both);
    ledger.absorb([content]);
    expect(ledger.verify({ crc32c: "AAAAAA==", md5Hash: md5B64(content) })).toEqual({
      ok: false,
      code: "checksum-mismatch",
      message: `expected the object's CRC32C to be ${crcB64(content)}, came AAAAAA==`,
    });
    expect(ledger.verify({ crc32c: crcB64(content), md5Hash: "1B2M2Y8AsgTpgAmY7PhCfg==" })).toMatchObject({ ok: false, code: "checksum-mismatch" });
  });

  it.each([
    ["missing", undefined, "came none"],
    ["a number", 1234, "came a number"],
    ["not base64", "%%%", 'came "%%%", not base64 of 4 bytes'],
    ["base64 of the wrong length", "AAAAAAAA", "not base64 of 4 bytes"],
  ])("verify: a CRC32C that is %s is checksum-unverifiable", (_label, value, came) => {
    const ledger = new ChecksumLedger({ crc32c: both.crc32c });
    const result = ledger.verify({ crc32c: value });
    expect(result).toMatchObject({ ok: false, code: "checksum-unverifiable" });
    expect((result as { message: string }).message).toContain(came);
  });

  it("verify: nothing asked, nothing required", () => {
    expect(new ChecksumLedger({}).verify({})).toEqual({ ok: true });
    expect(new ChecksumLedger({}).active).toBe(false);
    expect(new ChecksumLedger({ crc32c: both.crc32c }).verify({ crc32c: crcB64(new Uint8Array(0)) })).toEqual({ ok: true });
  });
});
