import { describe, expect, it } from "vitest";
import { RetryPolicy, backoffDelay, isTransientFailure, isTransientStatus, type RetryPolicyOptions } from "./retry-policy.js";
import { seededRandom } from "./test-support/random.js";

const base: RetryPolicyOptions = { initialDelayMs: 1000, maxDelayMs: 32_000, multiplier: 2, jitter: "none", maxAttempts: 10, deadlineMs: 300_000 };

describe("which outcomes are transient", () => {
  it("408, 429 and the 5xx gateway family, nothing else", () => {
    const transient = Array.from({ length: 500 }, (_, i) => i + 100).filter(isTransientStatus);
    expect(transient).toEqual([408, 429, 500, 502, 503, 504]);
  });

  it("every transport failure but auth", () => {
    expect((["network", "timeout", "aborted", "truncated", "auth"] as const).filter(isTransientFailure)).toEqual(["network", "timeout", "aborted", "truncated"]);
  });
});

describe("backoffDelay", () => {
  it("grows by the multiplier up to the cap, without jitter exactly", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n, base, () => 0.9))).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 32000, 32000]);
  });

  it("equal jitter stays within [d/2, d], full within [0, d], drawn from the injected source only", () => {
    const equal = { ...base, jitter: "equal" as const };
    expect(backoffDelay(3, equal, () => 0)).toBe(2000);
    expect(backoffDelay(3, equal, () => 0.5)).toBe(3000);
    expect(backoffDelay(3, { ...base, jitter: "full" }, () => 0.25)).toBe(1000);
    const a = seededRandom(5);
    const b = seededRandom(5);
    for (let n = 1; n < 12; n++) expect(backoffDelay(n, equal, a)).toBe(backoffDelay(n, equal, b));
  });

  it("a misbehaving random source cannot make a negative or infinite wait", () => {
    const equal = { ...base, jitter: "equal" as const };
    for (const bad of [Number.NaN, -5, 7, Infinity]) {
      const delay = backoffDelay(1, equal, () => bad);
      expect(delay).toBeGreaterThanOrEqual(500);
      expect(delay).toBeLessThanOrEqual(1000);
    }
  });
});

describe("RetryPolicy", () => {
  it("retries at now + delay and counts attempts in a row", () => {
    const policy = new RetryPolicy(base, () => 0);
    expect(policy.onFailure(100)).toEqual({ retryAt: 1100, attempt: 1, delayMs: 1000 });
    expect(policy.onFailure(1200)).toEqual({ retryAt: 3200, attempt: 2, delayMs: 2000 });
    expect(policy.failuresInARow).toBe(2);
  });

  it("gives up with retries-exhausted at maxAttempts failures in a row", () => {
    const policy = new RetryPolicy({ ...base, maxAttempts: 3 }, () => 0);
    policy.onFailure(0);
    policy.onFailure(1000);
    expect(policy.onFailure(3000)).toEqual({ giveUp: "retries-exhausted", attempt: 3, elapsedMs: 3000, delayMs: 0 });
  });

  it("progress resets the count and the deadline window (a per-offset budget)", () => {
    const policy = new RetryPolicy({ ...base, maxAttempts: 3, deadlineMs: 10_000 }, () => 0);
    policy.onFailure(0);
    policy.onFailure(1000);
    policy.onProgress();
    expect(policy.failuresInARow).toBe(0);
    // Long after the first window: a fresh one opens at this failure.
    expect(policy.onFailure(1_000_000)).toEqual({ retryAt: 1_001_000, attempt: 1, delayMs: 1000 });
    expect(policy.onFailure(1_001_000)).toMatchObject({ attempt: 2 });
  });

  it("gives up with deadline-exceeded when the next retry would begin past the deadline", () => {
    const policy = new RetryPolicy({ ...base, maxAttempts: 100, deadlineMs: 10_000 }, () => 0);
    let now = 500;
    for (const delay of [1000, 2000, 4000]) {
      expect(policy.onFailure(now)).toMatchObject({ delayMs: delay });
      now += delay;
    }
    expect(policy.onFailure(now)).toEqual({ giveUp: "deadline-exceeded", attempt: 4, elapsedMs: 7000, delayMs: 8000 });
  });

  it("the window opens when the first failing attempt was sent: a stalled request's wait counts", () => {
    const policy = new RetryPolicy({ ...base, deadlineMs: 100_000 }, () => 0);
    // Sent at 0, abandoned by the stall timer at 60 s: only 40 s of patience remain.
    expect(policy.onFailure(60_000, 0)).toMatchObject({ retryAt: 61_000 });
    expect(policy.onFailure(121_000, 61_000)).toEqual({ giveUp: "deadline-exceeded", attempt: 2, elapsedMs: 121_000, delayMs: 2000 });
  });

  it("with the defaults, a server that never answers is given up on within 5 minutes plus one stall", () => {
    const policy = new RetryPolicy(base, seededRandom(1));
    const idle = 60_000;
    let now = 0;
    let decision = policy.onFailure((now += idle), 0);
    while ("retryAt" in decision) {
      const sentAt = decision.retryAt;
      now = sentAt + idle;
      decision = policy.onFailure(now, sentAt);
    }
    expect(decision.giveUp).toBe("deadline-exceeded");
    expect(now).toBeLessThanOrEqual(300_000 + idle);
  });
});
