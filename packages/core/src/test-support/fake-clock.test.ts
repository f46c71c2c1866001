import { describe, expect, it } from "vitest";
import { FakeClock, runUntilSettled } from "./fake-clock.js";

describe("FakeClock", () => {
  it("fires due timers in order, reading each one's due time", () => {
    const clock = new FakeClock(100);
    const fired: [string, number][] = [];
    clock.setTimer(() => fired.push(["b", clock.now()]), 20);
    clock.setTimer(() => fired.push(["a", clock.now()]), 10);
    const cancel = clock.setTimer(() => fired.push(["x", clock.now()]), 15);
    clock.setTimer(() => fired.push(["c", clock.now()]), 20);
    cancel();
    expect(clock.pendingTimers).toBe(3);
    expect(clock.nextTimerAt).toBe(110);
    clock.advance(25);
    expect(fired).toEqual([
      ["a", 110],
      ["b", 120],
      ["c", 120],
    ]);
    expect(clock.now()).toBe(125);
    expect(clock.pendingTimers).toBe(0);
    expect(clock.runNext()).toBe(false);
    expect(() => clock.setTimer(() => undefined, -1)).toThrow(RangeError);
  });

  it("runs timers set by timers, and settles promises that wait on them", async () => {
    const clock = new FakeClock();
    const sleep = (ms: number): Promise<void> => new Promise((resolve) => clock.setTimer(resolve, ms));
    const work = (async () => {
      await sleep(1000);
      await sleep(500);
      return clock.now();
    })();
    await expect(runUntilSettled(clock, work)).resolves.toBe(1500);
    await expect(runUntilSettled(clock, new Promise(() => undefined))).rejects.toThrow(/deadlock/);
  });
});
