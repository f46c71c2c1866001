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
