/**
 * A manual clock for tests: time moves only when the test says so, and timers fire in order of due
 * time (then of creation), synchronously, with `now()` reading each timer's due time while it runs.
 */
import type { Clock } from "../clock.js";

interface Timer {
  readonly seq: number;
  readonly due: number;
  readonly callback: () => void;
}

/** A {@link Clock} driven by hand: `advance`, `runNext`, and helpers to settle async code. */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Timer[] = [];
  #version = 0;

  /** @param start - the initial reading of `now()`. */
  constructor(start = 0) {
    this.#now = start;
  }

  /** The current fake time, ms. */
  now(): number {
    return this.#now;
  }

  /** Schedules `callback` at `now() + delayMs`; the returned function cancels it. */
  setTimer(callback: () => void, delayMs: number): () => void {
    if (typeof delayMs !== "number" || !(delayMs >= 0)) throw new RangeError(`setTimer: expected a delay ≥ 0, came ${String(delayMs)}`);
    const timer: Timer = { seq: this.#seq++, due: this.#now + delayMs, callback };
    this.#timers.push(timer);
    this.#version++;
    return () => {
      const before = this.#timers.length;
      this.#timers = this.#timers.filter((t) => t !== timer);
      if (this.#timers.length !== before) this.#version++;
    };
  }

  /** Increments whenever a timer is set, cancelled or fired: tells a quiet clock from a busy one. */
  get version(): number {
    return this.#version;
  }

  /** Timers scheduled and not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** The due time of the earliest pending timer, if any. */
  get nextTimerAt(): number | undefined {
    return this.#earliest()?.due;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (let timer = this.#earliest(); timer !== undefined && timer.due <= target; timer = this.#earliest()) this.#fire(timer);
    this.#now = target;
  }

  /** Jumps to the earliest pending timer and fires it; false when there is none. */
  runNext(): boolean {
    const timer = this.#earliest();
    if (timer === undefined) return false;
    this.#fire(timer);
    return true;
  }

  #earliest(): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.#timers) if (best === undefined || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    return best;
  }

  #fire(timer: Timer): void {
    this.#timers = this.#timers.filter((t) => t !== timer);
    this.#version++;
    this.#now = Math.max(this.#now, timer.due);
    timer.callback();
  }
}

/** Lets pending promise reactions run (`rounds` turns of the microtask queue). */
export async function flushMicrotasks(rounds = 100): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/**
 * Runs `clock`'s timers until `promise` settles, and returns its outcome. Before each timer fires,
 * microtasks are flushed until the clock has been quiet (no timer set, cancelled or fired) for a
 * while, so a request answered on a microtask is never overtaken by its own stall timer. Throws if
 * the promise stays pending with no timer left after `maxIdleRounds` microtask turns (a deadlock),
 * or after `maxTimers` timers (a livelock).
 */
export async function runUntilSettled<T>(clock: FakeClock, promise: Promise<T>, options: { maxTimers?: number; maxIdleRounds?: number } = {}): Promise<T> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  const maxTimers = options.maxTimers ?? 100_000;
  const maxIdleRounds = options.maxIdleRounds ?? 1_000_000;
  let fired = 0;
  for (;;) {
    let rounds = 0;
    // Turn the microtask queue until the clock is quiet for 50 turns (or nothing is pending at all).
    for (let quiet = 0; !settled && rounds < maxIdleRounds && (clock.pendingTimers === 0 || quiet < 50); rounds += 10) {
      const before = clock.version;
      await flushMicrotasks(10);
      quiet = clock.version === before ? quiet + 10 : 0;
    }
    if (settled) return promise;
    if (clock.pendingTimers === 0) throw new Error("runUntilSettled: the promise is pending and no timer is scheduled (deadlock)");
    if (fired++ >= maxTimers) throw new Error(`runUntilSettled: still pending after ${maxTimers} timers`);
    clock.runNext();
  }
}
