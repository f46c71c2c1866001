/**
 * Position-addressed test bytes, shared by the cases (which send them) and the server (which checks
 * them). Every byte is a pure function of its offset and a seed, so the server can verify any slice
 * of a body as it streams in, without holding it and without being told what was sent: a transport
 * that reorders, drops, repeats or re-slices body views (or ignores a view's `byteOffset`) shows up
 * as the first offset that differs.
 *
 * Runtime-neutral: no imports, no globals.
 */

/** One 32-bit integer hash round (a multiply-xorshift mix): nearby inputs give unrelated words. */
function mix32(value: number): number {
  let x = value >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The seed's contribution to every word, computed once per call rather than once per word. */
function seedMix(seed: number): number {
  return mix32(seed + 0x9e3779b9);
}

/** The 32-bit word that holds bytes `4 * wordIndex` to `4 * wordIndex + 3` of the pattern (bodies stay far below 2^32 bytes). */
function patternWord(wordIndex: number, mixedSeed: number): number {
  return mix32(wordIndex ^ mixedSeed);
}

/**
 * Fills `target` with the pattern bytes for `seed` starting at body offset `start` (so
 * `fillPattern(a, 0, s)` and `fillPattern(b, a.length, s)` give one continuous stream).
 */
export function fillPattern(target: Uint8Array, start: number, seed: number): void {
  const mixed = seedMix(seed);
  for (let i = 0; i < target.length; ) {
    const offset = start + i;
    const word = patternWord(Math.floor(offset / 4), mixed);
    for (let shift = (offset & 3) * 8; shift < 32 && i < target.length; shift += 8, i += 1) target[i] = (word >>> shift) & 0xff;
  }
}

/** A fresh `length`-byte view of the pattern for `seed` from offset `start`. */
export function patternSlice(start: number, length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  fillPattern(out, start, seed);
  return out;
}

/**
 * Compares `received`, found at body offset `start`, with the pattern for `seed`; returns the body
 * offset of the first byte that differs, or -1 when every byte matches.
 */
export function patternMismatch(received: Uint8Array, start: number, seed: number): number {
  const mixed = seedMix(seed);
  for (let i = 0; i < received.length; ) {
    const offset = start + i;
    const word = patternWord(Math.floor(offset / 4), mixed);
    for (let shift = (offset & 3) * 8; shift < 32 && i < received.length; shift += 8, i += 1) {
      if (received[i] !== ((word >>> shift) & 0xff)) return start + i;
    }
  }
  return -1;
}

/** Printable ASCII (`!` to `~`) for offset `offset`: for bodies that travel back as response text. */
export function printableAt(offset: number, seed: number): number {
  return 0x21 + (patternWord(offset, seedMix(seed)) % 94);
}
