/**
 * The multipart checkpoint: what a new process needs to continue an XML multipart upload, as plain
 * JSON.
 *
 * Rules:
 * - It names the upload (`uploadId`, with the target's fingerprint) and every part whose ETag was
 *   in hand: number, ETag, size and, when CRC32C is in use, the part's CRC32C. The whole stream's
 *   CRC32C is never stored: it is rebuilt from the parts' values (`combineCrc32c`), so nothing in
 *   the checkpoint can disagree with the parts.
 * - The source resumes after the longest run of completed parts from part 1 (`resumeOffsetOf`).
 *   Completed parts beyond a gap are not sent again: their bytes, replayed by the source, are
 *   checked against the recorded CRC32C instead.
 * - `integrity` is an FNV-1a 64 digest over the canonical JSON of every other field, so a hand-edited
 *   checkpoint (an ETag, a size, a CRC) is refused as `invalid-checkpoint`. It catches accidents,
 *   not attackers: store checkpoints where you would store a credential.
 * - A restore trusts nothing: shape, version, types and ranges are checked here; the machine then
 *   compares the parts with what GCS lists before sending a byte.
 */
import { UploadError } from "../errors.js";
import { fnv1a64 } from "../fnv1a.js";
import { MAX_PARTS, MAX_PART_SIZE, MIN_PART_SIZE, partSchedule } from "./part-schedule.js";

/** The multipart checkpoint format version. */
export const MULTIPART_CHECKPOINT_VERSION = 1;

/** One completed part as the checkpoint records it. */
export interface CheckpointPart {
  /** 1–10,000. */
  readonly partNumber: number;
  /** The ETag GCS answered, as it came (quotes included). */
  readonly etag: string;
  /** Bytes in the part. */
  readonly size: number;
  /** CRC32C of the part (unsigned 32-bit), when CRC32C is in use. */
  readonly crc32c?: number;
}

/** A JSON-serialisable snapshot of a multipart upload in progress. */
export interface MultipartCheckpoint {
  /** Format version. */
  readonly version: 1;
  /** Tells this checkpoint from a resumable-session one. */
  readonly kind: "xml-multipart";
  /** The multipart upload id. Store checkpoints where you would store a credential. */
  readonly uploadId: string;
  /** The base part size the schedule was cut with (a restore uses it, whatever the options say). */
  readonly partSize: number;
  /** The total size, when declared. */
  readonly totalSize?: number;
  /** Completed parts, by part number ascending. */
  readonly parts: readonly CheckpointPart[];
  /** Digest of what must match on restore (target, CRC32C on/off, encryption key). */
  readonly fingerprint: string;
  /** Wall-clock time (ISO 8601) the upload was initiated, when known. */
  readonly createdAt?: string;
  /** Digest over every other field (see the module header). */
  readonly integrity: string;
}

/** FNV-1a 64 over the canonical JSON (keys sorted, undefined fields left out) of `value`. */
function digestOf(value: unknown): string {
  const canonical = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
    if (typeof v === "object" && v !== null) {
      const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(",")}}`;
    }
    return JSON.stringify(v);
  };
  return fnv1a64(canonical(value));
}

/** Seals a checkpoint: computes `integrity` over the other fields. */
export function sealMultipartCheckpoint(fields: Omit<MultipartCheckpoint, "integrity">): MultipartCheckpoint {
  return { ...fields, integrity: digestOf(fields) };
}

function corrupt(message: string): UploadError {
  return new UploadError("invalid-checkpoint", `multipart checkpoint: ${message}`);
}

function isCount(value: unknown, min: number, max: number): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= min && value <= max;
}

/**
 * Checks that `value` is a well-formed, unedited multipart checkpoint and returns it typed.
 *
 * @throws UploadError code `invalid-checkpoint` saying what was expected and what came.
 */
export function parseMultipartCheckpoint(value: unknown): MultipartCheckpoint {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw corrupt("expected an object");
  const c = value as Record<string, unknown>;
  if (c.kind !== "xml-multipart") throw corrupt(`expected kind "xml-multipart", came ${JSON.stringify(c.kind) ?? "nothing"}`);
  if (c.version !== MULTIPART_CHECKPOINT_VERSION) throw corrupt(`expected version ${MULTIPART_CHECKPOINT_VERSION}, came ${JSON.stringify(c.version) ?? "nothing"}`);
  if (typeof c.uploadId !== "string" || !/^[\x21-\x7e]{1,4096}$/.test(c.uploadId)) throw corrupt("expected uploadId to be a non-empty printable string");
  if (!isCount(c.partSize, MIN_PART_SIZE, MAX_PART_SIZE)) throw corrupt(`expected partSize from ${MIN_PART_SIZE} to ${MAX_PART_SIZE}`);
  if (c.totalSize !== undefined && !isCount(c.totalSize, 0, Number.MAX_SAFE_INTEGER)) throw corrupt("expected totalSize to be a non-negative integer");
  if (typeof c.fingerprint !== "string") throw corrupt("expected a fingerprint string");
  if (c.createdAt !== undefined && (typeof c.createdAt !== "string" || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/.test(c.createdAt))) {
    throw corrupt("expected createdAt to be an ISO 8601 UTC time");
  }
  if (typeof c.integrity !== "string") throw corrupt("expected an integrity digest");
  if (!Array.isArray(c.parts)) throw corrupt("expected parts to be an array");
  const schedule = partSchedule(c.partSize, c.totalSize);
  let previous = 0;
  for (const [i, raw] of (c.parts as unknown[]).entries()) {
    const p = raw as Record<string, unknown> | null;
    if (typeof p !== "object" || p === null) throw corrupt(`expected parts[${i}] to be an object`);
    if (!isCount(p.partNumber, 1, MAX_PARTS) || p.partNumber <= previous) throw corrupt(`expected parts[${i}].partNumber to be 1–${MAX_PARTS}, ascending`);
    previous = p.partNumber;
    if (typeof p.etag !== "string" || p.etag === "") throw corrupt(`expected parts[${i}].etag to be a non-empty string`);
    if (!isCount(p.size, 0, schedule.sizeOf(p.partNumber))) throw corrupt(`expected parts[${i}].size to be at most the part's scheduled size ${schedule.sizeOf(p.partNumber)}`);
    if (p.crc32c !== undefined && !isCount(p.crc32c, 0, 0xffffffff)) throw corrupt(`expected parts[${i}].crc32c to be an unsigned 32-bit integer`);
  }
  const { integrity, ...rest } = c;
  if (digestOf(rest) !== integrity) throw corrupt("the integrity digest does not match its contents: it was edited or damaged");
  return value as MultipartCheckpoint;
}

/**
 * The offset the source resumes from: the end of the longest run of completed parts from part 1
 * (each of them full-sized: a short part can only be the last).
 */
export function resumeOffsetOf(checkpoint: MultipartCheckpoint): { readonly offset: number; readonly nextPart: number } {
  const schedule = partSchedule(checkpoint.partSize, checkpoint.totalSize);
  let next = 1;
  let offset = 0;
  for (const part of checkpoint.parts) {
    if (part.partNumber !== next || part.size !== schedule.sizeOf(next)) break;
    offset += part.size;
    next++;
  }
  return { offset, nextPart: next };
}
