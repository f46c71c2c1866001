/**
 * A seeded pseudo-random source for replayable tests: Marsaglia's xorshift32, its seed first
 * scrambled so that nearby seeds (1, 2, 3…) give unrelated sequences. Not for anything but jitter
 * and test data.
 */
import type { RandomSource } from "../clock.js";

/** A deterministic {@link RandomSource} for `seed` (any number; same seed, same sequence). */
export function seededRandom(seed: number): RandomSource {
  // Scramble the seed (a multiply-xorshift mix) so small seeds do not start in a low-entropy state.
  let x = (Math.trunc(seed) ^ 0x5bd1e995) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  if (x === 0) x = 0x9e3779b9; // xorshift's one forbidden state
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}
