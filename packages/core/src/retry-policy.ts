/**
 * The retry policy, pure: which outcomes are worth another attempt, how long to wait before it, and
 * when to give up. Shared by the resumable machine and the multipart engine.
 *
 * Rules (docs/protocol.md, retry policy):
 *  1. Transient: statuses 408, 429, 500, 502, 503, 504, and every transport failure except `auth`
 *     (a reset, a stall, a cut response, an abort: the outcome is unknown, the server must be asked).
 *     An auth source that cannot produce credentials will not produce them a second later.
 *  2. Backoff for attempt n is `min(maxDelayMs, initialDelayMs · multiplier^(n-1))`, jittered by the
 *     injected random source (never one of its own), so the same seed gives the same delays.
 *  3. The budget is per offset: progress (the persisted offset advancing, a session created) resets
 *     the attempt count and the deadline window. A long upload over a flaky link is never condemned
 *     by failures an hour old.
 *  4. The deadline bounds the time without progress: the window opens when the first failing attempt
 *     since the last progress was sent, and a retry that would begin after `deadlineMs` from there
 *     gives up instead. With the defaults (5 minutes) a server that never answers holds an upload
 *     about five minutes, not ten stalls' worth.
 */
import type { RandomSource } from "./clock.js";
import type { TransportErrorKind } from "./transport.js";

/** Statuses that mean "try again later": the outcome is unknown, or refused for now. */
export const transientStatuses: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** True for an HTTP status worth another attempt (rule 1). */
export function isTransientStatus(status: number): boolean {
  return transientStatuses.has(status);
}

/** True for a transport failure worth another attempt (rule 1): all but `auth`. */
export function isTransientFailure(kind: TransportErrorKind): boolean {
  return kind !== "auth";
}

/** The policy's parameters, every one given (see `RetryOptions` for their meaning and defaults). */
export interface RetryPolicyOptions {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  readonly jitter: "equal" | "full" | "none";
  readonly maxAttempts: number;
  readonly deadlineMs: number;
}

/** Try again at `retryAt` (same scale as `now`): attempt number `attempt` failed, wait `delayMs`. */
export interface RetryLater {
  readonly retryAt: number;
  readonly attempt: number;
  readonly delayMs: number;
}

/** Stop: `maxAttempts` failures in a row, or the next retry would begin past the deadline. */
export interface GiveUp {
  readonly giveUp: "retries-exhausted" | "deadline-exceeded";
  readonly attempt: number;
  /** Time since the window opened (rule 4). */
  readonly elapsedMs: number;
  /** The wait the next retry would have needed (0 when the attempts ran out first). */
  readonly delayMs: number;
}

/** The answer to {@link RetryPolicy.onFailure}. */
export type RetryDecision = RetryLater | GiveUp;

/**
 * The delay before retry `attempt` (1-based), jittered by `random` (rule 2). A random source that
 * misbehaves (NaN, out of range) cannot produce a negative or infinite wait.
 */
export function backoffDelay(attempt: number, options: RetryPolicyOptions, random: RandomSource): number {
  const base = Math.min(options.maxDelayMs, options.initialDelayMs * options.multiplier ** (attempt - 1));
  if (options.jitter === "none") return Math.round(base);
  const drawn = Number(random());
  const r = Number.isFinite(drawn) ? Math.min(Math.max(drawn, 0), 1) : 0.5;
  return Math.round(options.jitter === "full" ? r * base : base / 2 + (r * base) / 2);
}

/** The failure count and deadline window of one upload (rules 3 and 4). */
export class RetryPolicy {
  readonly #options: RetryPolicyOptions;
  readonly #random: RandomSource;
  #failuresInARow = 0;
  #windowStart: number | undefined;

  /**
   * @param options - the resolved policy.
   * @param random - the injected jitter source.
   */
  constructor(options: RetryPolicyOptions, random: RandomSource) {
    this.#options = options;
    this.#random = random;
  }

  /** Failed attempts since the last progress. */
  get failuresInARow(): number {
    return this.#failuresInARow;
  }

  /** The policy's parameters. */
  get options(): RetryPolicyOptions {
    return this.#options;
  }

  /**
   * Records a failed attempt and decides: retry at a time, or give up.
   *
   * @param now - when the failure was reported.
   * @param attemptStartedAt - when the failed attempt was sent (opens the deadline window if it is
   *   the first failure since progress); defaults to `now`.
   */
  onFailure(now: number, attemptStartedAt: number = now): RetryDecision {
    this.#failuresInARow += 1;
    const attempt = this.#failuresInARow;
    this.#windowStart ??= Math.min(attemptStartedAt, now);
    const elapsedMs = now - this.#windowStart;
    if (attempt >= this.#options.maxAttempts) return { giveUp: "retries-exhausted", attempt, elapsedMs, delayMs: 0 };
    const delayMs = backoffDelay(attempt, this.#options, this.#random);
    if (now + delayMs - this.#windowStart > this.#options.deadlineMs) return { giveUp: "deadline-exceeded", attempt, elapsedMs, delayMs };
    return { retryAt: now + delayMs, attempt, delayMs };
  }

  /** Progress: the attempt count and the deadline window start afresh (rule 3). */
  onProgress(): void {
    this.#failuresInARow = 0;
    this.#windowStart = undefined;
  }
}
