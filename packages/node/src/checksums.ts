import { createHash, type Hash } from "node:crypto";
import { crc32c } from "@node-rs/crc32";
import type { Checksum, ChecksumProvider, Crc32cChecksum } from "@resumable-gcs/core";

/**
 * A running CRC32C on @node-rs/crc32's native (SSE4.2 / ARM CRC) implementation. Its whole state is
 * the 32-bit value, which is why a checkpoint can carry it across processes.
 */
class NativeCrc32c implements Crc32cChecksum {
  #value: number;

  constructor(initial = 0) {
    this.#value = initial >>> 0;
  }

  update(bytes: Uint8Array): void {
    this.#value = crc32c(bytes, this.#value);
  }

  value(): number {
    return this.#value >>> 0;
  }

  digest(): Uint8Array {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, this.#value >>> 0, false);
    return out;
  }

  clone(): NativeCrc32c {
    return new NativeCrc32c(this.#value);
  }
}

/** A running MD5 on node:crypto; `Hash.copy()` gives core the copy it digests the final chunk on. */
class NodeMd5 implements Checksum {
  readonly #hash: Hash;

  constructor(hash: Hash = createHash("md5")) {
    this.#hash = hash;
  }

  update(bytes: Uint8Array): void {
    this.#hash.update(bytes);
  }

  digest(): Uint8Array {
    // digest() ends a Hash, so digest a copy and keep this one running.
    return new Uint8Array(this.#hash.copy().digest());
  }

  clone(): NodeMd5 {
    return new NodeMd5(this.#hash.copy());
  }
}

/**
 * The fastest checksums Node has: native CRC32C from @node-rs/crc32 and MD5 from node:crypto.
 *
 * @example
 * ```ts
 * const crc = nodeChecksums.crc32c();
 * crc.update(new Uint8Array([1, 2, 3]));
 * crc.value(); // unsigned 32-bit CRC32C
 * ```
 */
export const nodeChecksums: { readonly crc32c: (initial?: number) => Crc32cChecksum; readonly md5: () => Checksum } & ChecksumProvider = {
  crc32c: (initial?: number) => new NativeCrc32c(initial),
  md5: () => new NodeMd5(),
};
