/**
 * The checkpoint: everything a new process needs to continue an upload, as plain JSON.
 *
 * Format, version 2 (what {@link UploadMachine.checkpoint} writes):
 *
 * ```json
 * { "version": 2, "sessionUri": "https://…&upload_id=…", "resumeOffset": 524288, "crc32c": 2739812035,
 *   "totalSize": 1048576, "chunkSize": 262144, "fingerprint": "fnv1a64:…",
 *   "createdAt": "2026-12-01T09:00:00.000Z", "integrity": "fnv1a64:…" }
 * ```
 *
 * Rules:
 * - `resumeOffset` is the offset the source must be read from on resume. It is the offset the server
 *   had confirmed AND whose bytes this process has seen (after a restore the server may be ahead of
 *   the bytes written so far; the checkpoint never claims bytes it could not checksum).
 * - `crc32c` is the CRC32C of bytes [0, resumeOffset): four bytes of state are enough to continue the
 *   running checksum. MD5 state is not portable, so a checkpoint never carries it.
 * - `createdAt` is when the session was created, from the injected wall clock (ISO 8601, UTC), when
 *   one was given: sessions last about a week.
 * - `integrity` is FNV-1a 64 over the canonical JSON of every other field (keys sorted), so a
 *   hand-edited checkpoint (another session URI, offset or CRC) is refused as `invalid-checkpoint`.
 *   It is a tamper and corruption check, not a signature.
 * - Version 1 (`persisted` instead of `resumeOffset`, `createdAt` a number on the caller's monotonic
 *   clock, no `integrity`) is still read, as the same upload: its offset becomes `resumeOffset` and
 *   its `createdAt` is dropped (a monotonic reading is no date). Checkpoints are always written as v2.
 * - A restore trusts nothing: shape, version, types, ranges and integrity are checked, the
 *   fingerprint must match the options, and the restored machine asks the server where the upload
 *   stands before sending a byte.
 */
import { describeValue } from "./describe.js";
import { UploadError } from "./errors.js";
import { fnv1a64 } from "./fnv1a.js";
import { CHUNK_GRANULARITY } from "./options.js";

/** The checkpoint format version written. Version 1 is still read. */
export const CHECKPOINT_VERSION = 2;

/** A JSON-serialisable snapshot of an upload in progress (format version 2, see the module header). */
export interface Checkpoint {
  /**
   * Never present on a resumable-session checkpoint: declared so that `checkpoint.kind ===
   * "xml-multipart"` tells the two members of the upload layer's `UploadCheckpoint` union apart.
   */
  readonly kind?: undefined;
  /** Format version: always {@link CHECKPOINT_VERSION}. */
  readonly version: 2;
  /** The session URI. A bearer secret: store checkpoints where you would store a credential. */
  readonly sessionUri: string;
  /** Stream offset to resume the source from: confirmed by the server and covered by `crc32c`. */
  readonly resumeOffset: number;
  /** CRC32C (unsigned 32-bit) of bytes [0, resumeOffset), when CRC32C is in use. */
  readonly crc32c?: number;
  /** The object's total size, when known. */
  readonly totalSize?: number;
  /** The chunk size in use (informational; a restore may use another valid one). */
  readonly chunkSize: number;
  /** Digest of the options that must match on restore (target, CRC32C on/off, encryption key). */
  readonly fingerprint: string;
  /** When the session was created (ISO 8601, UTC, from the injected wall clock), when known. */
  readonly createdAt?: string;
  /** FNV-1a 64 over the canonical JSON of the other fields: refuses hand-edited checkpoints. */
  readonly integrity: string;
}

/** A checkpoint's fields without its integrity digest (what {@link sealCheckpoint} takes). */
export type CheckpointFields = Omit<Checkpoint, "version" | "integrity">;

/** The integrity digest of a checkpoint's fields: FNV-1a 64 over their canonical JSON (keys sorted). */
export function checkpointIntegrity(fields: CheckpointFields): string {
  const entries: [string, unknown][] = [
    ["chunkSize", fields.chunkSize],
    ["createdAt", fields.createdAt],
    ["crc32c", fields.crc32c],
    ["fingerprint", fields.fingerprint],
    ["resumeOffset", fields.resumeOffset],
    ["sessionUri", fields.sessionUri],
    ["totalSize", fields.totalSize],
    ["version", CHECKPOINT_VERSION],
  ];
  return fnv1a64(JSON.stringify(Object.fromEntries(entries.filter(([, value]) => value !== undefined))));
}

/** Builds a version 2 checkpoint with its integrity digest. */
export function sealCheckpoint(fields: CheckpointFields): Checkpoint {
  return {
    version: CHECKPOINT_VERSION,
    sessionUri: fields.sessionUri,
    resumeOffset: fields.resumeOffset,
    ...(fields.crc32c === undefined ? {} : { crc32c: fields.crc32c }),
    ...(fields.totalSize === undefined ? {} : { totalSize: fields.totalSize }),
    chunkSize: fields.chunkSize,
    fingerprint: fields.fingerprint,
    ...(fields.createdAt === undefined ? {} : { createdAt: fields.createdAt }),
    integrity: checkpointIntegrity(fields),
  };
}

const DAY_MS = 86_400_000;

/**
 * Epoch milliseconds as ISO 8601 UTC (`2026-12-01T09:00:00.000Z`), in pure arithmetic: core reads
 * no clock and uses no `Date` (the wall clock is injected; this only formats its reading).
 */
export function isoTimestamp(epochMs: number): string {
  const ms = Math.floor(epochMs);
  const days = Math.floor(ms / DAY_MS);
  const inDay = ms - days * DAY_MS;
  // Civil date from days since 1970-01-01 (proleptic Gregorian; eras of 400 years = 146097 days).
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const two = (n: number): string => String(n).padStart(2, "0");
  const time = `${two(Math.floor(inDay / 3_600_000))}:${two(Math.floor(inDay / 60_000) % 60)}:${two(Math.floor(inDay / 1000) % 60)}.${String(inDay % 1000).padStart(3, "0")}`;
  return `${String(year).padStart(4, "0")}-${two(month)}-${two(day)}T${time}Z`;
}

const isoPattern = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,3})?Z$/;

function corrupt(message: string): UploadError {
  return new UploadError("invalid-checkpoint", `checkpoint: ${message}`);
}

function isOffset(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function came(value: unknown): string {
  return value === undefined ? "nothing" : describeValue(value);
}

/**
 * Checks that `value` is a well-formed checkpoint (shape, version, types, ranges, integrity) and
 * returns it typed, as version 2 (a version 1 checkpoint is converted, see the module header).
 * Matching it against options is the machine's job ({@link UploadMachine.restore}).
 *
 * @throws UploadError with code `invalid-checkpoint` saying what was expected and what came.
 */
export function parseCheckpoint(value: unknown): Checkpoint {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw corrupt(`expected an object, came ${came(value)}`);
  const c = value as Record<string, unknown>;
  if (c.version !== CHECKPOINT_VERSION && c.version !== 1) throw corrupt(`expected version ${CHECKPOINT_VERSION} (or 1), came ${came(c.version)}`);
  const v1 = c.version === 1;
  const offsetField = v1 ? "persisted" : "resumeOffset";
  const resumeOffset = c[offsetField];
  if (typeof c.sessionUri !== "string" || !/^https?:\/\/[^/?#\s]+([/?#]\S*)?$/i.test(c.sessionUri)) {
    throw corrupt("expected sessionUri to be an absolute http(s) URL");
  }
  if (!isOffset(resumeOffset)) throw corrupt(`expected ${offsetField} to be a non-negative integer, came ${came(resumeOffset)}`);
  if (c.crc32c !== undefined && !(typeof c.crc32c === "number" && Number.isInteger(c.crc32c) && c.crc32c >= 0 && c.crc32c <= 0xffffffff)) {
    throw corrupt(`expected crc32c to be an unsigned 32-bit integer, came ${came(c.crc32c)}`);
  }
  if (c.totalSize !== undefined) {
    if (!isOffset(c.totalSize)) throw corrupt(`expected totalSize to be a non-negative integer, came ${came(c.totalSize)}`);
    if (c.totalSize < resumeOffset) throw corrupt(`expected ${offsetField} (${resumeOffset}) ≤ totalSize (${c.totalSize})`);
  }
  if (!isOffset(c.chunkSize) || c.chunkSize === 0 || c.chunkSize % CHUNK_GRANULARITY !== 0) {
    throw corrupt(`expected chunkSize to be a positive multiple of ${CHUNK_GRANULARITY}, came ${came(c.chunkSize)}`);
  }
  if (typeof c.fingerprint !== "string" || c.fingerprint === "") throw corrupt("expected a fingerprint string");
  if (v1) {
    if (c.createdAt !== undefined && !(typeof c.createdAt === "number" && Number.isFinite(c.createdAt))) {
      throw corrupt(`expected createdAt to be a finite number (version 1), came ${came(c.createdAt)}`);
    }
  } else if (c.createdAt !== undefined && !(typeof c.createdAt === "string" && isoPattern.test(c.createdAt))) {
    throw corrupt(`expected createdAt to be an ISO 8601 UTC timestamp, came ${came(c.createdAt)}`);
  }
  const fields: CheckpointFields = {
    sessionUri: c.sessionUri,
    resumeOffset,
    chunkSize: c.chunkSize,
    fingerprint: c.fingerprint,
    ...(c.crc32c === undefined ? {} : { crc32c: c.crc32c }),
    ...(c.totalSize === undefined ? {} : { totalSize: c.totalSize }),
    ...(v1 || c.createdAt === undefined ? {} : { createdAt: c.createdAt as string }),
  };
  const checkpoint = sealCheckpoint(fields);
  if (!v1 && c.integrity !== checkpoint.integrity) {
    throw corrupt(
      `expected integrity ${checkpoint.integrity} (computed over its fields), came ${came(c.integrity)}: the checkpoint was edited or corrupted after it was written`,
    );
  }
  return checkpoint;
}

/** What a checkpoint must agree with in the options restoring it. */
export interface CheckpointExpectations {
  /** The options' fingerprint (target, CRC32C on/off, encryption key). */
  readonly fingerprint: string;
  /** Present when the options compute CRC32C: the checkpoint must then carry one. */
  readonly crc32c?: unknown;
  /** The options' declared total, if any. */
  readonly totalSize?: number;
}

/**
 * Checks that `checkpoint` belongs to the upload these options describe.
 *
 * @throws UploadError code `invalid-checkpoint` saying what was expected and what came.
 */
export function assertCheckpointFits(checkpoint: Checkpoint, expected: CheckpointExpectations): void {
  if (expected.crc32c !== undefined && checkpoint.crc32c === undefined) {
    throw corrupt("expected a crc32c (these options compute CRC32C), came none: it was taken without CRC32C");
  }
  if (checkpoint.fingerprint !== expected.fingerprint) {
    throw corrupt(
      `expected fingerprint ${expected.fingerprint} (from these options), came ${checkpoint.fingerprint}: it belongs to another upload (target, checksum or encryption key differ)`,
    );
  }
  if (expected.totalSize !== undefined && checkpoint.totalSize !== undefined && expected.totalSize !== checkpoint.totalSize) {
    throw corrupt(`expected totalSize ${expected.totalSize} (from the options), came ${checkpoint.totalSize}`);
  }
}
