/**
 * Re-reading what a saved session already holds, to prove the data given again is the same before it is
 * skipped: the CRC32C of the source's first N bytes against the checkpoint's. A file is read from disk; a
 * stream (stdin, or gzip output recomputed from the start) is consumed up to N and the rest left in it.
 */
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { crc32c } from "@node-rs/crc32";

/** What a prefix read found. */
export interface PrefixResult {
  /** Bytes read: `length`, or fewer when the source ended first. */
  readonly bytes: number;
  /** CRC32C (unsigned) of those bytes. */
  readonly crc32c: number;
}

/** CRC32C of a file's first `length` bytes (fewer if the file is shorter). */
export async function crcOfFilePrefix(path: string, length: number): Promise<PrefixResult> {
  if (length === 0) return { bytes: 0, crc32c: 0 };
  let crc = 0;
  let bytes = 0;
  for await (const chunk of createReadStream(path, { start: 0, end: length - 1 })) {
    crc = crc32c(chunk as Buffer, crc);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, crc32c: crc >>> 0 };
}

/**
 * Consumes exactly `length` bytes of `stream` (fewer if it ends first), hashing them, and leaves the stream
 * paused at the byte after them, with any over-read pushed back (`unshift`), ready to be piped on.
 */
export function consumePrefix(stream: Readable, length: number): Promise<PrefixResult> {
  return new Promise((resolve, reject) => {
    let crc = 0;
    let bytes = 0;
    const finish = (): void => {
      stream.off("readable", onReadable);
      stream.off("end", onEnd);
      stream.off("error", onError);
      resolve({ bytes, crc32c: crc >>> 0 });
    };
    const onEnd = (): void => finish();
    const onError = (error: Error): void => {
      stream.off("readable", onReadable);
      stream.off("end", onEnd);
      reject(error);
    };
    const onReadable = (): void => {
      let chunk: Buffer | string | null;
      while (bytes < length && (chunk = stream.read() as Buffer | string | null) !== null) {
        const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
        const take = Math.min(buffer.length, length - bytes);
        crc = crc32c(buffer.subarray(0, take), crc);
        bytes += take;
        if (take < buffer.length) stream.unshift(buffer.subarray(take));
      }
      if (bytes >= length) finish();
    };
    if (length === 0) {
      resolve({ bytes: 0, crc32c: 0 });
      return;
    }
    stream.on("readable", onReadable);
    stream.on("end", onEnd);
    stream.on("error", onError);
  });
}
