/**
 * The checkpoint: everything a new process needs to continue an upload, as plain JSON.
 *
 * Rules:
 * - `persisted` is the offset the source must be read from on resume. It is the offset the server
 *   had confirmed AND whose bytes this process has seen (after a restore the server may be ahead of
 *   the bytes written so far; the checkpoint never claims bytes it could not checksum).
 * - `crc32c` is the CRC32C of bytes [0, persisted): four bytes of state are enough to continue the
 *   running checksum. MD5 state is not portable, so a checkpoint never carries it.
 * - A restore trusts nothing: shape, version, types and ranges are checked, the fingerprint must
 *   match the options, and the restored machine asks the server where the upload stands before
 *   sending a byte.
 */
import { UploadError } from "./errors.js";
import { CHUNK_GRANULARITY } from "./options.js";

/** The current checkpoint format version. */
export const CHECKPOINT_VERSION = 1;

/** A JSON-serialisable snapshot of an upload in progress. */
export interface Checkpoint {
  /** Format version: always {@link CHECKPOINT_VERSION}. */
  readonly version: 1;
  /** The session URI. A bearer secret: store checkpoints where you would store a credential. */
  readonly sessionUri: string;
  /** Stream offset to resume the source from: confirmed by the server and covered by `crc32c`. */
  readonly persisted: number;
  /** CRC32C (unsigned 32-bit) of bytes [0, persisted), when CRC32C is in use. */
  readonly crc32c?: number;
  /** The object's total size, when known. */
  readonly totalSize?: number;
  /** The chunk size in use (informational; a restore may use another valid one). */
  readonly chunkSize: number;
  /** Digest of the options that must match on restore (target, CRC32C on/off, encryption key). */
  readonly fingerprint: string;
  /** The caller's clock (`now`) when the session was created, when known: sessions last about a week. */
  readonly createdAt?: number;
}

function corrupt(message: string): UploadError {
  return new UploadError("invalid-checkpoint", `checkpoint: ${message}`);
}

function isOffset(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Checks that `value` is a well-formed checkpoint (shape, version, types, ranges) and returns it
 * typed. Matching it against options is the machine's job ({@link UploadMachine.restore}).
 *
 * @throws UploadError with code `invalid-checkpoint` saying what was expected and what came.
 */
export function parseCheckpoint(value: unknown): Checkpoint {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw corrupt(`expected an object, came ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value}`);
  }
  const c = value as Record<string, unknown>;
  if (c.version !== CHECKPOINT_VERSION) throw corrupt(`expected version ${CHECKPOINT_VERSION}, came ${JSON.stringify(c.version) ?? "nothing"}`);
  if (typeof c.sessionUri !== "string" || !/^https?:\/\/[^/?#\s]+([/?#]\S*)?$/i.test(c.sessionUri)) {
    throw corrupt("expected sessionUri to be an absolute http(s) URL");
  }
  if (!isOffset(c.persisted)) throw corrupt(`expected persisted to be a non-negative integer, came ${JSON.stringify(c.persisted) ?? "nothing"}`);
  if (c.crc32c !== undefined && !(typeof c.crc32c === "number" && Number.isInteger(c.crc32c) && c.crc32c >= 0 && c.crc32c <= 0xffffffff)) {
    throw corrupt(`expected crc32c to be an unsigned 32-bit integer, came ${JSON.stringify(c.crc32c)}`);
  }
  if (c.totalSize !== undefined) {
    if (!isOffset(c.totalSize)) throw corrupt(`expected totalSize to be a non-negative integer, came ${JSON.stringify(c.totalSize)}`);
    if (c.totalSize < c.persisted) throw corrupt(`expected persisted (${c.persisted}) ≤ totalSize (${c.totalSize})`);
  }
  if (!isOffset(c.chunkSize) || c.chunkSize === 0 || c.chunkSize % CHUNK_GRANULARITY !== 0) {
    throw corrupt(`expected chunkSize to be a positive multiple of ${CHUNK_GRANULARITY}, came ${JSON.stringify(c.chunkSize) ?? "nothing"}`);
  }
  if (typeof c.fingerprint !== "string" || c.fingerprint === "") throw corrupt("expected a fingerprint string");
  if (c.createdAt !== undefined && !(typeof c.createdAt === "number" && Number.isFinite(c.createdAt))) {
    throw corrupt(`expected createdAt to be a finite number, came ${JSON.stringify(c.createdAt)}`);
  }
  return {
    version: CHECKPOINT_VERSION,
    sessionUri: c.sessionUri,
    persisted: c.persisted,
    chunkSize: c.chunkSize,
    fingerprint: c.fingerprint,
    ...(c.crc32c === undefined ? {} : { crc32c: c.crc32c }),
    ...(c.totalSize === undefined ? {} : { totalSize: c.totalSize }),
    ...(c.createdAt === undefined ? {} : { createdAt: c.createdAt }),
  };
}
