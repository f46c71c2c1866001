/**
 * Checksums as GCS reports them: CRC32C as the base64 of its 4 big-endian bytes, MD5 as the base64 of
 * its 16 bytes. The running state of an object being uploaded lives in {@link ObjectData}.
 */
import { createHash, type Hash } from "node:crypto";
import { crc32c } from "@node-rs/crc32";

/** Base64 of the 4 big-endian bytes of a CRC32C value, the form GCS uses in `crc32c` and `X-Goog-Hash`. */
export function crc32cToBase64(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes.toString("base64");
}

/** The CRC32C of `bytes` in GCS form (base64, big-endian). */
export function crc32cOf(bytes: Uint8Array): string {
  return crc32cToBase64(crc32c(bytes));
}

/** The MD5 of `bytes` in GCS form (base64). */
export function md5Of(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("base64");
}

/** Whether `text` is canonical base64 of exactly `length` bytes (so comparisons are on one spelling). */
export function isBase64OfLength(text: string, length: number): boolean {
  const bytes = Buffer.from(text, "base64");
  return bytes.length === length && bytes.toString("base64") === text;
}

/** The hashes a client declared in `X-Goog-Hash` (either may be absent). */
export interface DeclaredHashes {
  crc32c?: string;
  md5?: string;
}

/**
 * Parses `X-Goog-Hash: crc32c=...,md5=...`. Node joins repeated headers with ", ", so the header may
 * carry both forms. Returns an error message for anything malformed: a client must never get a silent
 * pass on a checksum it thinks it sent.
 */
export function parseGoogHash(header: string | undefined): { ok: true; value: DeclaredHashes } | { ok: false; message: string } {
  const value: DeclaredHashes = {};
  if (header === undefined || header.trim() === "") return { ok: true, value };
  for (const part of header.split(",")) {
    const item = part.trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    if (eq <= 0) return { ok: false, message: `Malformed X-Goog-Hash entry "${item}".` };
    const name = item.slice(0, eq).trim().toLowerCase();
    const digest = item.slice(eq + 1).trim();
    if (name === "crc32c") {
      if (!isBase64OfLength(digest, 4)) return { ok: false, message: `X-Goog-Hash crc32c "${digest}" is not the base64 of 4 bytes.` };
      value.crc32c = digest;
    } else if (name === "md5") {
      if (!isBase64OfLength(digest, 16)) return { ok: false, message: `X-Goog-Hash md5 "${digest}" is not the base64 of 16 bytes.` };
      value.md5 = digest;
    } else {
      return { ok: false, message: `Unknown X-Goog-Hash algorithm "${name}".` };
    }
  }
  return { ok: true, value };
}

/** A point to roll {@link ObjectData} back to: a finalizing request that fails must persist nothing. */
export interface DataSnapshot {
  readonly size: number;
  readonly crc: number;
  readonly md5: Hash | undefined;
  readonly chunkCount: number;
}

/**
 * The persisted bytes of one upload: size and running CRC32C always, MD5 unless turned off (`md5: false`),
 * the bytes themselves only in memory mode (as the list of received buffers, never concatenated until
 * someone reads the object).
 */
export class ObjectData {
  #size = 0;
  #crc = 0;
  #md5: Hash | undefined;
  #chunks: Buffer[] | undefined;

  constructor(keepBytes: boolean, md5 = true) {
    this.#chunks = keepBytes ? [] : undefined;
    this.#md5 = md5 ? createHash("md5") : undefined;
  }

  /** Bytes persisted so far. */
  get size(): number {
    return this.#size;
  }

  /** The running CRC32C as a number (for combining parts). */
  get crc32cValue(): number {
    return this.#crc >>> 0;
  }

  /** Appends persisted bytes. The buffer is kept by reference in memory mode (request chunks are fresh). */
  append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#size += bytes.length;
    this.#crc = crc32c(bytes, this.#crc);
    this.#md5?.update(bytes);
    this.#chunks?.push(bytes);
  }

  /** Captures the state; MD5 state is copied, which is cheap (a few hundred bytes). */
  snapshot(): DataSnapshot {
    return { size: this.#size, crc: this.#crc, md5: this.#md5?.copy(), chunkCount: this.#chunks?.length ?? 0 };
  }

  /** Returns to a snapshot taken earlier on this same object. */
  restore(snapshot: DataSnapshot): void {
    this.#size = snapshot.size;
    this.#crc = snapshot.crc;
    this.#md5 = snapshot.md5?.copy();
    this.#chunks?.splice(snapshot.chunkCount);
  }

  /** The checksums of the bytes persisted so far, without ending the running state (no MD5 when it is off). */
  digests(): { crc32c: string; md5Hash: string | undefined } {
    return { crc32c: crc32cToBase64(this.#crc), md5Hash: this.#md5?.copy().digest("base64") };
  }

  /** Drops the buffers (they now belong to a finished object, or to nobody). */
  release(): void {
    this.#chunks = undefined;
  }

  /** The persisted buffers (memory mode), or undefined (discard mode). */
  chunks(): readonly Buffer[] | undefined {
    return this.#chunks;
  }
}

/** The CRC32C polynomial, bit-reflected (the form the table-driven algorithm and the combine step use). */
const CRC32C_REFLECTED = 0x82f63b78;

/**
 * The CRC32C of A followed by B, from the CRC32C of A, the CRC32C of B and B's length, without the bytes.
 * A multipart object's checksum comes from its parts this way, so discard mode needs no part bytes.
 * Appending `length` zero bytes to A's register is a linear map over GF(2); it is applied by squaring
 * the one-zero-bit operator (a 32x32 bit matrix) once per bit of the length.
 */
export function crc32cCombine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB <= 0) return crcA >>> 0;
  // The operator for one zero bit: shift right, and fold the polynomial in when the low bit drops out.
  let operator: number[] = [CRC32C_REFLECTED];
  for (let bit = 1; bit < 32; bit++) operator.push((1 << (bit - 1)) >>> 0);
  // Squared three times: the operator for one zero byte.
  for (let i = 0; i < 3; i++) operator = squareMatrix(operator);
  let register = crcA >>> 0;
  let remaining = lengthB;
  while (remaining > 0) {
    if (remaining % 2 === 1) register = applyMatrix(operator, register);
    remaining = Math.floor(remaining / 2);
    if (remaining > 0) operator = squareMatrix(operator);
  }
  return (register ^ crcB) >>> 0;
}

function applyMatrix(matrix: readonly number[], vector: number): number {
  let sum = 0;
  let rest = vector >>> 0;
  for (let row = 0; rest !== 0; row++, rest >>>= 1) if (rest & 1) sum ^= matrix[row]!;
  return sum >>> 0;
}

function squareMatrix(matrix: readonly number[]): number[] {
  return matrix.map((column) => applyMatrix(matrix, column));
}
