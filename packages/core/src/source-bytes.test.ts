import { describe, expect, it } from "vitest";
import type { LedgerStart } from "./checksum-ledger.js";
import { UsageError } from "./errors.js";
import { CHUNK, bytesOf, nodeChecksums } from "./harness.test-utils.js";
import { SourceBytes } from "./source-bytes.js";
import { crc32c } from "./test-support/crc32c.js";

function bytes(declaredTotal?: number, start: LedgerStart = { offset: 0 }): SourceBytes {
  return new SourceBytes({ chunkSize: CHUNK, declaredTotal, digests: { crc32c: nodeChecksums.crc32c! } }, start);
}

describe("SourceBytes", () => {
  it("unknown total: a full chunk is chosen only once a byte beyond it is held; end() makes the rest final", () => {
    const b = bytes();
    b.write(new Uint8Array(CHUNK), false);
    expect(b.nextChunk()).toBeUndefined();
    b.write(new Uint8Array(1), false);
    expect(b.nextChunk()).toEqual({ from: 0, to: CHUNK, final: false });
    b.end();
    expect(b.total).toBe(CHUNK + 1);
    expect(b.nextChunk()).toEqual({ from: 0, to: CHUNK, final: false });
    b.markSent(CHUNK);
    b.acknowledge(CHUNK);
    expect(b.nextChunk()).toEqual({ from: CHUNK, to: CHUNK + 1, final: true });
  });

  it("known total: the chunk reaching it waits for end(); writes past it and short ends throw", () => {
    const b = bytes(2 * CHUNK);
    b.write(new Uint8Array(2 * CHUNK), false);
    expect(b.nextChunk()).toEqual({ from: 0, to: CHUNK, final: false });
    b.markSent(CHUNK);
    b.acknowledge(CHUNK);
    expect(b.nextChunk()).toBeUndefined();
    expect(() => b.write(new Uint8Array(1), false)).toThrow(UsageError);
    b.end();
    expect(b.nextChunk()).toEqual({ from: CHUNK, to: 2 * CHUNK, final: true });
    const short = bytes(10);
    short.write(new Uint8Array(9), false);
    expect(() => short.end()).toThrow(/expected 10/);
  });

  it("acknowledged bytes are released into the ledger at once, each once", () => {
    const content = bytesOf(3 * CHUNK);
    const b = bytes();
    b.write(content, false);
    b.markSent(2 * CHUNK);
    b.acknowledge(CHUNK);
    expect(b.retained).toBe(2 * CHUNK);
    expect(b.oldest).toBe(CHUNK);
    expect(b.ledger.crc32cValue).toBe(crc32c(content.subarray(0, CHUNK)));
    expect(b.checkpointFields()).toEqual({ resumeOffset: CHUNK, crc32c: crc32c(content.subarray(0, CHUNK)) });
  });

  it("a restore's replay below the server's offset is absorbed, never chosen", () => {
    const content = bytesOf(4 * CHUNK);
    const b = bytes(undefined, { offset: CHUNK, crc32c: crc32c(content.subarray(0, CHUNK)) });
    b.markSent(3 * CHUNK);
    b.acknowledge(3 * CHUNK);
    b.write(content.subarray(CHUNK, 2 * CHUNK), false);
    expect(b.retained).toBe(0);
    expect(b.nextChunk()).toBeUndefined(); // the server is ahead of the replay
    b.write(content.subarray(2 * CHUNK), false);
    expect(b.retained).toBe(CHUNK);
    expect(b.ledger.crc32cValue).toBe(crc32c(content.subarray(0, 3 * CHUNK)));
  });

  it("checks acknowledgements: beyond what was sent, below what was confirmed, against a checkpoint", () => {
    const b = bytes();
    b.write(new Uint8Array(3 * CHUNK), false);
    b.markSent(CHUNK);
    expect(b.checkAcknowledged(2 * CHUNK)).toMatchObject({ code: "protocol-violation" });
    b.acknowledge(CHUNK);
    expect(b.checkAcknowledged(0)).toMatchObject({ code: "data-lost" });
    expect(b.checkAcknowledged(CHUNK)).toBeUndefined();
    expect(b.checkAcknowledged(CHUNK, 2 * CHUNK)).toMatchObject({ code: "data-lost" });
    expect(bytes(CHUNK).checkAcknowledged(2 * CHUNK, 0)).toMatchObject({ code: "protocol-violation" });
  });

  it("checks a final object's size: before end(), another size, more than was sent, or a session found final", () => {
    const b = bytes();
    b.write(new Uint8Array(100), false);
    expect(b.checkFinalSize(100, false)).toContain("end() has not been called");
    b.end();
    expect(b.checkFinalSize(99, false)).toContain("expected an object of 100 bytes, came one of 99");
    expect(b.checkFinalSize(100, false)).toContain("only 0 were ever sent");
    b.markSent(100);
    expect(b.checkFinalSize(100, false)).toBeUndefined();
    const found = bytes(undefined, { offset: CHUNK });
    expect(found.checkFinalSize(CHUNK - 1, true)).toContain(`expected at least ${CHUNK}`);
    expect(found.checkFinalSize(CHUNK + 5, true)).toBeUndefined();
  });

  it("backpressure: less than a chunk unsent (up to a full chunk with an unknown total)", () => {
    const b = bytes();
    b.write(new Uint8Array(CHUNK), false);
    expect(b.wantsMore(undefined)).toBe(true);
    b.write(new Uint8Array(1), false);
    expect(b.wantsMore(undefined)).toBe(false);
    expect(b.wantsMore({ from: 0, to: CHUNK })).toBe(true);
    const known = bytes(10 * CHUNK);
    known.write(new Uint8Array(CHUNK), false);
    expect(known.wantsMore(undefined)).toBe(false);
  });

  it("rule 5: a write's CRC32C is taken when it is written and combined in when released, not read again", () => {
    const content = bytesOf(3 * CHUNK + 5000);
    let reads = 0;
    const counting = {
      crc32c: (initial?: number) => {
        const inner = nodeChecksums.crc32c!(initial);
        return {
          update: (view: Uint8Array) => {
            reads += view.length;
            inner.update(view);
          },
          value: () => inner.value(),
          digest: () => inner.digest(),
          clone: () => inner.clone(),
        };
      },
    };
    const b = new SourceBytes({ chunkSize: CHUNK, declaredTotal: undefined, digests: counting });
    // Writes that do not fall on chunk boundaries: the released prefix of one is read, the rest not.
    const cuts = [0, 100_000, 300_000, 2 * CHUNK + 7, content.length];
    for (let i = 0; i + 1 < cuts.length; i++) b.write(content.subarray(cuts[i], cuts[i + 1]), false);
    expect(reads).toBe(content.length); // each byte once, at write time
    b.markSent(CHUNK);
    b.acknowledge(CHUNK); // the first write whole, and a prefix of the second
    expect(b.ledger.crc32cValue).toBe(crc32c(content.subarray(0, CHUNK)));
    expect(reads).toBe(content.length + (CHUNK - 100_000));
    b.markSent(2 * CHUNK + 7);
    b.acknowledge(2 * CHUNK + 7); // the second's remainder (derived) and the third whole: no reads
    expect(reads).toBe(content.length + (CHUNK - 100_000));
    expect(b.ledger.crc32cValue).toBe(crc32c(content.subarray(0, 2 * CHUNK + 7)));
    b.end();
    b.markSent(content.length);
    b.acknowledge(content.length);
    expect(b.ledger.crc32cValue).toBe(crc32c(content));
  });

  it("rule 5 with MD5 too, and after a restore where the server is ahead (those bytes are read once, at once)", () => {
    const content = bytesOf(2 * CHUNK + 10);
    const both = new SourceBytes({ chunkSize: CHUNK, declaredTotal: undefined, digests: { crc32c: nodeChecksums.crc32c!, md5: nodeChecksums.md5! } });
    both.write(content.subarray(0, 1000), false);
    both.write(content.subarray(1000), false);
    both.markSent(CHUNK);
    both.acknowledge(CHUNK);
    both.end();
    expect(Buffer.from(both.finalizeDigest(both.tail()).crc32c!).readUInt32BE()).toBe(crc32c(content));
    const restored = bytes(undefined, { offset: CHUNK, crc32c: crc32c(content.subarray(0, CHUNK)) });
    restored.markSent(2 * CHUNK);
    restored.acknowledge(2 * CHUNK); // the server holds a chunk the source has not replayed yet
    restored.write(content.subarray(CHUNK, CHUNK + 100), false); // below it: absorbed at once
    restored.write(content.subarray(CHUNK + 100, 2 * CHUNK + 3), false); // straddles it
    restored.write(content.subarray(2 * CHUNK + 3), false); // above it: kept, CRC32C taken
    expect(restored.ledger.crc32cValue).toBe(crc32c(content.subarray(0, 2 * CHUNK)));
    restored.end();
    restored.markSent(content.length);
    restored.acknowledge(content.length);
    expect(restored.ledger.crc32cValue).toBe(crc32c(content));
  });
});

