import { crc32cBase64 as checksum, patternChunks, patternCrc32cBase64 } from "@resumable-gcs/test-utils/node";

/** The workspace's deterministic test bytes (`@resumable-gcs/test-utils`), as Buffers, in blocks so 100 MiB stays cheap. */
export function* generate(size: number, seed = 1, block = 64 * 1024): Generator<Buffer> {
  for (const chunk of patternChunks(size, { seed, chunkSize: block })) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** All of {@link generate} in one buffer (for sizes that fit comfortably in a test). */
export function generated(size: number, seed = 1): Buffer {
  return Buffer.concat([...generate(size, seed)]);
}

/** Base64 big-endian CRC32C, as GCS reports it. */
export function crc32cBase64(bytes: Uint8Array): string {
  return checksum(bytes);
}

/** Same as {@link crc32cBase64} over a generated stream, without holding it. */
export function generatedCrc32cBase64(size: number, seed = 1): string {
  return patternCrc32cBase64(size, { seed });
}
