/**
 * How an XML multipart upload cuts the stream into parts.
 *
 * GCS's limits: part numbers 1–10,000; every part but the last at least 5 MiB and at most 5 GiB;
 * an object at most 5 TiB. A stream of unknown length cannot pick one part size that is both small
 * (memory is about `(parallelism + 1) × part size`) and enough for any object in 10,000 parts, so
 * the size grows with the part number instead:
 *
 * | parts        | size                  |
 * | ------------ | --------------------- |
 * | 1–900        | `partSize`            |
 * | 901–1800     | 2 × `partSize`        |
 * | 1801–2700    | 4 × `partSize`        |
 * | …            | doubling every 900    |
 * | 9901–10000   | 2048 × `partSize`     |
 *
 * every size capped at 5 GiB. With the smallest `partSize` (5 MiB) the 10,000 parts hold about
 * 9.3 TiB, more than GCS's 5 TiB object limit, so any object fits; objects up to 4.4 GiB (at 5 MiB)
 * or 14 GiB (at the 16 MiB default) never leave the first band. When the total size is known in
 * advance, one size is used for every part instead: `partSize`, or the smallest whole MiB that
 * fits the object in 10,000 parts if that is larger.
 *
 * The schedule is a pure function of the part number, the base size and the declared total, so a
 * resumed upload cuts exactly the same parts as the process that started it.
 */

/** MiB, in bytes. */
const MiB = 1024 * 1024;

/** GCS's smallest part (every part but the last): 5 MiB. */
export const MIN_PART_SIZE = 5 * MiB;

/** GCS's largest part: 5 GiB. */
export const MAX_PART_SIZE = 5 * 1024 * MiB;

/** GCS's part numbers run from 1 to 10,000. */
export const MAX_PARTS = 10_000;

/** GCS's largest object: 5 TiB. */
export const MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MiB;

/** The default base part size: 16 MiB. */
export const DEFAULT_PART_SIZE = 16 * MiB;

/** The default number of parts in flight at once. */
export const DEFAULT_PARALLELISM = 4;

/** The part size doubles after every this many parts (unknown total size). */
export const PARTS_PER_BAND = 900;

/** The parts of one upload: see the module header for the rule. */
export interface PartSchedule {
  /** The size of part `partNumber` (1-based), except that the last part may be shorter. */
  sizeOf(partNumber: number): number;
  /** The stream offset where part `partNumber` begins. */
  startOf(partNumber: number): number;
}

/**
 * The part size used for every part when the total is known: `partSize`, raised to the smallest
 * whole MiB that fits `totalSize` in {@link MAX_PARTS} parts.
 */
export function fixedPartSizeFor(partSize: number, totalSize: number): number {
  const needed = Math.ceil(Math.ceil(totalSize / MAX_PARTS) / MiB) * MiB;
  return Math.min(MAX_PART_SIZE, Math.max(partSize, needed));
}

/**
 * The schedule for a base `partSize` (≥ {@link MIN_PART_SIZE}) and, when known, the total size.
 */
export function partSchedule(partSize: number, totalSize: number | undefined): PartSchedule {
  if (totalSize !== undefined) {
    const size = fixedPartSizeFor(partSize, totalSize);
    return { sizeOf: () => size, startOf: (n) => (n - 1) * size };
  }
  const sizeOf = (n: number): number => Math.min(MAX_PART_SIZE, partSize * 2 ** Math.floor((n - 1) / PARTS_PER_BAND));
  return {
    sizeOf,
    startOf(n) {
      // Whole bands before this part, then the parts of its own band.
      let offset = 0;
      let part = 1;
      while (part + PARTS_PER_BAND <= n) {
        offset += PARTS_PER_BAND * sizeOf(part);
        part += PARTS_PER_BAND;
      }
      return offset + (n - part) * sizeOf(part);
    },
  };
}
