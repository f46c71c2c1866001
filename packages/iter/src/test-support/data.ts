/**
 * Deterministic test data for every runtime (no Node APIs): the workspace's one generator
 * (`@resumable-gcs/test-utils`), cut into pieces of any shape so sources of 1-byte chunks and of
 * 100 MiB chunks carry the same bytes.
 */
import { patternBytes } from "@resumable-gcs/test-utils";

/** The byte at every position of the stream for `seed`, in one buffer of `size` bytes. */
export function generated(size: number, seed = 1): Uint8Array {
  return patternBytes(size, seed);
}

/** `data` cut into consecutive views of `pieceSize` bytes (the last may be shorter). */
export function pieces(data: Uint8Array, pieceSize: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.byteLength; at += pieceSize) out.push(data.subarray(at, Math.min(at + pieceSize, data.byteLength)));
  return out;
}

/** An async generator over `data` in `pieceSize` pieces, recording how far it has been pulled. */
export function countingGenerator(data: Uint8Array, pieceSize: number) {
  const log = { pulls: 0, pulledBytes: 0, finallyRan: false, returned: false };
  async function* generate(): AsyncGenerator<Uint8Array> {
    try {
      for (const piece of pieces(data, pieceSize)) {
        log.pulls += 1;
        log.pulledBytes += piece.byteLength;
        yield await io(piece);
      }
    } finally {
      log.finallyRan = true;
    }
  }
  return { log, source: generate() };
}

/** The index of the first differing byte, or -1 when equal (lengths included). */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const shorter = Math.min(a.byteLength, b.byteLength);
  for (let i = 0; i < shorter; i += 1) if (a[i] !== b[i]) return i;
  return a.byteLength === b.byteLength ? -1 : shorter;
}

/** Throws naming the first difference unless `actual` equals `expected`. */
export function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  const at = firstDifference(actual, expected);
  if (at !== -1) throw new Error(`${what}: ${actual.byteLength} bytes vs ${expected.byteLength} expected, first difference at byte ${at}`);
}

/** Stands in for a producer's own I/O (a read, a query): an async source awaits before it yields. */
export function io<T>(value: T): Promise<T> {
  return Promise.resolve(value);
}
