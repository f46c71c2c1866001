/** CRC32C in the form GCS writes it. */

/** Base64 of the big-endian CRC32C, the way GCS writes `crc32c`. */
export function crc32cBase64(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes.toString("base64");
}
