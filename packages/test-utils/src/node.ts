/**
 * Native checksum helpers for tests in Node: CRC32C from @node-rs/crc32 and MD5 from node:crypto,
 * both as plain functions (base64, as GCS writes them) and as a checksum provider shaped like core's
 * `ChecksumProvider` (structurally: this package depends on nothing of ours, so core's own tests can
 * use it without a dependency cycle).
 */
import { createHash, type Hash } from "node:crypto";
import { crc32c } from "@node-rs/crc32";
import { patternChunks, type PatternChunkOptions } from "./pattern.js";

export * from "./index.js";

/** Big-endian bytes of a 32-bit CRC. */
function crcBytes(value: number): Uint8Array {
  return new Uint8Array([value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]);
}

/** CRC32C of `bytes` (continuing from `initial`, the CRC of a prefix), as an unsigned integer. */
export function crc32cOf(bytes: Uint8Array, initial = 0): number {
  return crc32c(bytes, initial) >>> 0;
}

/** CRC32C of `bytes` (continuing from `initial`), base64 of its big-endian bytes: GCS's `crc32c` field. */
export function crc32cBase64(bytes: Uint8Array, initial = 0): string {
  return Buffer.from(crcBytes(crc32cOf(bytes, initial))).toString("base64");
}

/** MD5 of `bytes`, base64: GCS's `md5Hash` field. */
export function md5Base64(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("base64");
}

/** {@link crc32cBase64} of the pattern stream `patternChunks(total, options)`, without holding it. */
export function patternCrc32cBase64(total: number, options: PatternChunkOptions = {}): string {
  let crc = 0;
  for (const chunk of patternChunks(total, options)) crc = crc32c(chunk, crc);
  return Buffer.from(crcBytes(crc >>> 0)).toString("base64");
}

/** A running CRC32C shaped like core's `Crc32cChecksum`. */
export interface NativeCrc32c {
  update(bytes: Uint8Array): void;
  value(): number;
  digest(): Uint8Array;
  clone(): NativeCrc32c;
}

/** A running MD5 shaped like core's `Checksum`. */
export interface NativeMd5 {
  update(bytes: Uint8Array): void;
  digest(): Uint8Array;
  clone(): NativeMd5;
}

class Crc implements NativeCrc32c {
  #value: number;
  constructor(value: number) {
    this.#value = value >>> 0;
  }
  update(bytes: Uint8Array): void {
    this.#value = crc32c(bytes, this.#value) >>> 0;
  }
  value(): number {
    return this.#value;
  }
  digest(): Uint8Array {
    return crcBytes(this.#value);
  }
  clone(): Crc {
    return new Crc(this.#value);
  }
}

class Md5 implements NativeMd5 {
  readonly #hash: Hash;
  constructor(hash: Hash) {
    this.#hash = hash;
  }
  update(bytes: Uint8Array): void {
    this.#hash.update(bytes);
  }
  digest(): Uint8Array {
    return new Uint8Array(this.#hash.copy().digest());
  }
  clone(): Md5 {
    return new Md5(this.#hash.copy());
  }
}

/** Native CRC32C and node:crypto MD5 as a checksum provider (assignable to core's `ChecksumProvider`). */
export const nodeChecksums: { readonly crc32c: (initial?: number) => NativeCrc32c; readonly md5: () => NativeMd5 } = {
  crc32c: (initial?: number) => new Crc(initial ?? 0),
  md5: () => new Md5(createHash("md5")),
};
