import { crc32c } from "@node-rs/crc32";

/** Deterministic pseudo-random bytes (xorshift32), generated in blocks so 100 MiB stays cheap. */
export function* generate(size: number, seed = 1, block = 64 * 1024): Generator<Buffer> {
  let x = seed >>> 0 || 0x9e3779b9;
  for (let offset = 0; offset < size; offset += block) {
    const length = Math.min(block, size - offset);
    const words = new Uint32Array(Math.ceil(length / 4));
    for (let i = 0; i < words.length; i += 1) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    yield Buffer.from(words.buffer, 0, length);
  }
}

/** All of {@link generate} in one buffer (for sizes that fit comfortably in a test). */
export function generated(size: number, seed = 1): Buffer {
  return Buffer.concat([...generate(size, seed)]);
}

/** Base64 big-endian CRC32C, as GCS reports it. */
export function crc32cBase64(bytes: Uint8Array): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32c(bytes) >>> 0);
  return out.toString("base64");
}

/** Same as {@link crc32cBase64} over a generated stream, without holding it. */
export function generatedCrc32cBase64(size: number, seed = 1): string {
  let crc = 0;
  for (const part of generate(size, seed)) crc = crc32c(part, crc);
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc >>> 0);
  return out.toString("base64");
}
