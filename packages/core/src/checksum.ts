/**
 * Checksums are injected: core has no dependencies, and each runtime has its own fastest
 * implementation (native CRC32C in Node, a portable one in browsers).
 */

/** A running checksum over a byte stream fed in order. */
export interface Checksum {
  /** Feeds the next bytes of the stream. */
  update(bytes: Uint8Array): void;
  /** The digest of everything fed so far, big-endian bytes. Does not end the checksum. */
  digest(): Uint8Array;
  /** An independent copy of the current state (core digests "acknowledged + final chunk" on a copy). */
  clone(): Checksum;
}

/** A running CRC32C whose whole state is one unsigned 32-bit number, so it fits in a checkpoint. */
export interface Crc32cChecksum extends Checksum {
  /** The CRC32C of everything fed so far, as an unsigned 32-bit integer (the saveable state). */
  value(): number;
  /** An independent copy of the current state. */
  clone(): Crc32cChecksum;
}

/** The checksum implementations an adapter hands core. Either may be absent. */
export interface ChecksumProvider {
  /** Creates a CRC32C starting from `initial` (the value of an earlier prefix; 0 for none). */
  readonly crc32c?: (initial?: number) => Crc32cChecksum;
  /** Creates an MD5 over an empty prefix (MD5 state cannot be restored across processes). */
  readonly md5?: () => Checksum;
}
