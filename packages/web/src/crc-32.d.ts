// crc-32 ships types for its CRC-32 entry point only; its CRC32C entry point has the same shape.
declare module "crc-32/crc32c.js" {
  /** CRC32C of `data` continuing from `seed` (the signed CRC32C of the prefix), as a signed 32-bit integer. */
  export function buf(data: Uint8Array, seed?: number): number;
}
