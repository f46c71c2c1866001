/**
 * The workspace's one deterministic byte generator: Marsaglia's xorshift32 over 32-bit words (fast
 * enough for hundreds of MiB), its seed scrambled first so nearby seeds (1, 2, 3) give unrelated
 * streams. The same `(seed)` gives the same bytes in every form below, so a test can stream a source
 * in chunks and compare with, or checksum, the bytes of one `patternBytes` call. Pure: no imports, no
 * globals, so it runs in any runtime's tests.
 */

/** Default chunk size of the streaming forms: 64 KiB. */
export const DEFAULT_PATTERN_CHUNK = 64 * 1024;

/** The xorshift32 start state for `seed` (never 0, xorshift's one fixed point). */
function startState(seed: number): number {
  let x = (Math.trunc(seed) ^ 0x5bd1e995) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  return x === 0 ? 0x9e3779b9 : x;
}

/** A word source continuing one xorshift32 stream across calls. */
class WordStream {
  #x: number;
  constructor(seed: number) {
    this.#x = startState(seed);
  }
  /** Fills `words` with the next words of the stream. */
  fill(words: Uint32Array): void {
    let x = this.#x;
    for (let i = 0; i < words.length; i += 1) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    this.#x = x >>> 0;
  }
}

function checkLength(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative safe integer, came ${value}`);
}

/** `length` pattern bytes for `seed` (default 1), from offset 0. */
export function patternBytes(length: number, seed = 1): Uint8Array {
  checkLength("length", length);
  const words = new Uint32Array(Math.ceil(length / 4));
  new WordStream(seed).fill(words);
  return new Uint8Array(words.buffer, 0, length);
}

/** Options of {@link patternChunks} and {@link patternChunksAsync}. */
export interface PatternChunkOptions {
  /** The stream's seed. Default 1. */
  readonly seed?: number;
  /** Bytes per yielded chunk (the last may be shorter). Default {@link DEFAULT_PATTERN_CHUNK}. */
  readonly chunkSize?: number;
  /** Start at this offset of the stream (a resumed upload's source). Default 0. */
  readonly from?: number;
}

/**
 * The first `total` bytes of the pattern stream, as fresh chunks of `chunkSize` (each its own buffer,
 * safe to hold by reference), starting at `from`. Concatenated, they equal
 * `patternBytes(total, seed).subarray(from)`; only one chunk is in memory at a time.
 */
export function* patternChunks(total: number, options: PatternChunkOptions = {}): Generator<Uint8Array> {
  const chunkSize = options.chunkSize ?? DEFAULT_PATTERN_CHUNK;
  const from = options.from ?? 0;
  checkLength("total", total);
  checkLength("from", from);
  if (!(chunkSize > 0) || chunkSize % 4 !== 0) throw new RangeError(`chunkSize must be a positive multiple of 4, came ${chunkSize}`);
  const stream = new WordStream(options.seed ?? 1);
  for (let at = 0; at < total; at += chunkSize) {
    const length = Math.min(chunkSize, total - at);
    const words = new Uint32Array(Math.ceil(length / 4));
    // Words before `from` are still generated: the stream is sequential.
    stream.fill(words);
    if (at + length <= from) continue;
    const bytes = new Uint8Array(words.buffer, 0, length);
    yield at >= from ? bytes : bytes.subarray(from - at);
  }
}

/** {@link patternChunks} as an async iterable, yielding to the event loop between chunks like a real source. */
export async function* patternChunksAsync(total: number, options: PatternChunkOptions = {}): AsyncGenerator<Uint8Array> {
  for (const chunk of patternChunks(total, options)) {
    await Promise.resolve();
    yield chunk;
  }
}

/** Options of {@link stampedBlocks}. */
export interface StampedBlockOptions {
  /** Bytes per block (the last may be shorter). Default 1 MiB. */
  readonly blockSize?: number;
  /** Seed of the one pattern block. Default 1. */
  readonly seed?: number;
}

/**
 * Cheap bulk data for demos and benchmarks: one pattern block generated once, then for each block a
 * fresh copy with the block's index stamped in its first 8 bytes (little-endian), so no two blocks are
 * alike and the cost per block is one copy. Blocks are fresh buffers: a consumer may keep them.
 */
export function* stampedBlocks(total: number, options: StampedBlockOptions = {}): Generator<Uint8Array> {
  const blockSize = options.blockSize ?? 1024 * 1024;
  checkLength("total", total);
  if (!Number.isSafeInteger(blockSize) || blockSize < 8) throw new RangeError(`blockSize must be an integer of at least 8, came ${blockSize}`);
  const base = patternBytes(blockSize, options.seed ?? 1);
  for (let offset = 0, index = 0; offset < total; offset += blockSize, index += 1) {
    const length = Math.min(blockSize, total - offset);
    const block = base.slice(0, length);
    if (length >= 8) new DataView(block.buffer).setBigUint64(0, BigInt(index), true);
    yield block;
  }
}

/** All of {@link stampedBlocks} in one buffer (for sizes that fit comfortably in a test). */
export function stampedBytes(total: number, options: StampedBlockOptions = {}): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const block of stampedBlocks(total, options)) {
    out.set(block, at);
    at += block.byteLength;
  }
  return out;
}
