/**
 * Time and randomness, injected. Core never reads a clock or draws a random number itself: the state
 * machine takes `now` as an argument, and the driver asks these interfaces, so a test can replay an
 * upload byte for byte with a fake clock and a seeded random source.
 */

/** A monotonic clock in milliseconds, plus one-shot timers. */
export interface Clock {
  /** Milliseconds on a monotonic scale (only differences matter). */
  now(): number;
  /** Calls `callback` once after `delayMs`; the returned function cancels it if it has not run. */
  setTimer(callback: () => void, delayMs: number): () => void;
}

/** A source of uniform random numbers in [0, 1), used only for backoff jitter. */
export type RandomSource = () => number;
