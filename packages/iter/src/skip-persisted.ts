/**
 * Resuming from a replayable source: skip the bytes the checkpoint says the server holds, after
 * checking they are the bytes that were uploaded.
 *
 * Rules:
 * - The prefix is read and checked before anything else happens, so a mismatch costs no request:
 *   the caller calls `upload()` only with a source that was proven to continue the checkpoint.
 * - Either kind of checkpoint: a session's `resumeOffset`, or a multipart upload's completed prefix
 *   of parts (its CRC32C combined from the parts', see core's `resumePointOf`).
 * - The check is the checkpoint's CRC32C of bytes [0, resumeOffset). A checkpoint without one (an
 *   upload with `checksum: "md5"` or `"none"`) cannot be checked; skipping unchecked needs
 *   `unverified: true`, said out loud.
 * - The returned iterable yields the rest of the source from `resumeOffset` (the tail of the chunk
 *   that straddles it first, as a view, never a copy) and closes the source when closed itself.
 */
import { UploadError, ValidationError, parseUploadCheckpoint, resumePointOf, type Crc32cChecksum } from "@resumable-gcs/core";
import { loadChecksums } from "@resumable-gcs/web";
import { openSource, type ByteSource, type ChunkReader } from "./source.js";

/** Options of {@link skipPersisted}. */
export interface SkipPersistedOptions {
  /**
   * The CRC32C implementation (`runtime.checksums.crc32c` of the runtime you upload with). Default:
   * the web package's (native where the runtime has Node's APIs, else WebAssembly or JavaScript).
   */
  readonly crc32c?: (initial?: number) => Crc32cChecksum;
  /** Skip the prefix even though the checkpoint has no CRC32C to check it against. Default false. */
  readonly unverified?: boolean;
}

const hex = (value: number): string => `0x${(value >>> 0).toString(16).padStart(8, "0")}`;

/** An async iterable over what is left of `reader`, `head` first. */
function rest(reader: ChunkReader, head: Uint8Array | undefined): AsyncIterable<Uint8Array> {
  let pendingHead = head;
  const iterator: AsyncIterator<Uint8Array> = {
    async next() {
      if (pendingHead !== undefined) {
        const value = pendingHead;
        pendingHead = undefined;
        return { done: false, value };
      }
      const value = await reader.next();
      return value === undefined ? { done: true, value: undefined } : { done: false, value };
    },
    async return() {
      pendingHead = undefined;
      await reader.close();
      return { done: true, value: undefined };
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}

/**
 * Reads the first `resumeOffset` bytes of `source`, checks their CRC32C against the checkpoint's,
 * and resolves with the rest of the source, ready for `upload(rest, { ...options, checkpoint })`.
 *
 * @throws UploadError `invalid-checkpoint` when the checkpoint is malformed, when the source ends
 *   before `resumeOffset`, or when the prefix's CRC32C differs (it is not the source that was being
 *   uploaded); the source is closed and nothing was sent.
 * @throws ValidationError for a source that is not bytes, or a checkpoint without CRC32C unless
 *   `unverified` is set.
 *
 * @example
 * ```ts
 * const checkpoint = await store.load();
 * const object = await upload(await skipPersisted(openTheSameFile(), checkpoint), { bucket, name, checkpoint });
 * ```
 */
export async function skipPersisted(source: ByteSource, checkpoint: unknown, options: SkipPersistedOptions = {}): Promise<AsyncIterable<Uint8Array>> {
  const { resumeOffset: offset, crc32c: expected } = resumePointOf(parseUploadCheckpoint(checkpoint));
  if (expected === undefined && options.unverified !== true) {
    throw new ValidationError(
      "checkpoint",
      `has no crc32c (the upload ran without CRC32C), so the ${offset} bytes to skip cannot be checked; pass { unverified: true } to skip them unchecked`,
    );
  }
  if (options.crc32c !== undefined && typeof options.crc32c !== "function") throw new ValidationError("crc32c", "expected a function (initial?: number) => Crc32cChecksum");
  const reader = openSource(source);
  try {
    const crc = expected === undefined ? undefined : (options.crc32c ?? (await loadChecksums()).crc32c)(0);
    let skipped = 0;
    let head: Uint8Array | undefined;
    while (skipped < offset) {
      const chunk = await reader.next();
      if (chunk === undefined) {
        throw new UploadError("invalid-checkpoint", `the source ended after ${skipped} bytes, but the checkpoint resumes at byte ${offset}: it is not the source that was being uploaded`);
      }
      const take = Math.min(chunk.byteLength, offset - skipped);
      crc?.update(take === chunk.byteLength ? chunk : chunk.subarray(0, take));
      skipped += take;
      if (take < chunk.byteLength) head = chunk.subarray(take);
    }
    if (crc !== undefined && expected !== undefined && crc.value() !== expected) {
      throw new UploadError(
        "invalid-checkpoint",
        `the source's first ${offset} bytes have CRC32C ${hex(crc.value())}, the checkpoint says ${hex(expected)}: it is not the source that was being uploaded`,
      );
    }
    return rest(reader, head);
  } catch (error) {
    await reader.close(error);
    throw error;
  }
}
