/**
 * The checkpoint an upload hands out and takes back: either engine's.
 *
 * A resumable-session checkpoint ({@link Checkpoint}) carries no `kind`; a multipart one
 * ({@link MultipartCheckpoint}) has `kind: "xml-multipart"`. The layer never turns one into the
 * other: a checkpoint resumes only with options that pick its engine (see `createUpload`).
 */
import { parseCheckpoint, type Checkpoint } from "../checkpoint.js";
import { combineCrc32c } from "../multipart/crc32c-combine.js";
import { parseMultipartCheckpoint, resumeOffsetOf, type MultipartCheckpoint } from "../multipart/multipart-checkpoint.js";

/** Either engine's checkpoint; `kind === "xml-multipart"` tells them apart. */
export type UploadCheckpoint = Checkpoint | MultipartCheckpoint;

/** True when `value` claims to be a multipart checkpoint (its `kind`); says nothing of its validity. */
export function claimsMultipart(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "xml-multipart";
}

/** True for a multipart checkpoint (narrows the union). */
export function isMultipartCheckpoint(checkpoint: UploadCheckpoint): checkpoint is MultipartCheckpoint {
  return checkpoint.kind === "xml-multipart";
}

/**
 * Checks either kind of checkpoint (shape, version, integrity) and returns it typed.
 *
 * @throws UploadError code `invalid-checkpoint` saying what was expected and what came.
 */
export function parseUploadCheckpoint(value: unknown): UploadCheckpoint {
  return claimsMultipart(value) ? parseMultipartCheckpoint(value) : parseCheckpoint(value);
}

/** Where a source resumes, and what its skipped prefix must hash to. */
export interface ResumePoint {
  /** The stream offset the source must start at. */
  readonly resumeOffset: number;
  /** CRC32C (unsigned 32-bit) of bytes [0, resumeOffset), when the checkpoint records CRC32Cs. */
  readonly crc32c?: number;
}

/**
 * The resume point of either kind of checkpoint (already parsed): for a session, its
 * `resumeOffset` and `crc32c`; for a multipart upload, the end of the longest run of completed
 * parts from part 1 and the CRC32C combined from those parts' values.
 */
export function resumePointOf(checkpoint: UploadCheckpoint): ResumePoint {
  if (!isMultipartCheckpoint(checkpoint)) {
    return { resumeOffset: checkpoint.resumeOffset, ...(checkpoint.crc32c === undefined ? {} : { crc32c: checkpoint.crc32c }) };
  }
  const { offset, nextPart } = resumeOffsetOf(checkpoint);
  let crc: number | undefined = 0;
  for (const part of checkpoint.parts) {
    if (part.partNumber >= nextPart) break;
    if (part.crc32c === undefined) {
      crc = undefined;
      break;
    }
    crc = combineCrc32c(crc, part.crc32c, part.size);
  }
  return { resumeOffset: offset, ...(crc === undefined ? {} : { crc32c: crc >>> 0 }) };
}
