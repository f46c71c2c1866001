/**
 * A portable CRC32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven, eight bytes per
 * step ("slicing by 8"). Pure ECMAScript so the in-memory model and any adapter's tests can use it
 * anywhere; production adapters inject a native implementation instead.
 */
import type { ChecksumProvider, Crc32cChecksum } from "../checksum.js";

const POLY = 0x82f63b78;
const TABLE = new Int32Array(8 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  TABLE[n] = c;
}
for (let n = 0; n < 256; n++) {
  for (let k = 1; k < 8; k++) {
    const prev = TABLE[(k - 1) * 256 + n]!;
    TABLE[k * 256 + n] = (prev >>> 8) ^ TABLE[prev & 255]!;
  }
}

/** CRC32C of `bytes` continuing from `initial` (the CRC32C of the preceding bytes; 0 for none). */
export function crc32c(bytes: Uint8Array, initial = 0): number {
  const t = TABLE;
  let c = ~initial;
  let i = 0;
  const n = bytes.length;
  for (; i + 8 <= n; i += 8) {
    const a = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c =
      t[1792 + (a & 255)]! ^
      t[1536 + ((a >>> 8) & 255)]! ^
      t[1280 + ((a >>> 16) & 255)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < n; i++) c = t[(c ^ bytes[i]!) & 255]! ^ (c >>> 8);
  return ~c >>> 0;
}

class PortableCrc32c implements Crc32cChecksum {
  #value: number;

  constructor(initial: number) {
    this.#value = initial >>> 0;
  }

  update(bytes: Uint8Array): void {
    this.#value = crc32c(bytes, this.#value);
  }

  value(): number {
    return this.#value;
  }

  digest(): Uint8Array {
    const v = this.#value;
    return new Uint8Array([v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);
  }

  clone(): PortableCrc32c {
    return new PortableCrc32c(this.#value);
  }
}

/** A running {@link Crc32cChecksum} starting from `initial` (the value of an earlier prefix). */
export function createCrc32c(initial = 0): Crc32cChecksum {
  return new PortableCrc32c(initial);
}

/** A {@link ChecksumProvider} with the portable CRC32C (no MD5). */
export const portableChecksums: ChecksumProvider = { crc32c: createCrc32c };
