// The soak's plans: seeded, covering the sizes and the fault vocabulary they claim to.
import { describe, expect, it } from "vitest";
import { faultSchedule, scenario, seededRandom } from "./soak.mjs";

describe("soak", () => {
  it("draws the same plan from the same seed", () => {
    const adapters = [{ name: "a" }, { name: "b" }];
    const plan = (seed) => {
      const random = seededRandom(seed);
      return Array.from({ length: 20 }, (_, i) => scenario(random, i, adapters));
    };
    expect(plan(7)).toEqual(plan(7));
    expect(plan(7)).not.toEqual(plan(8));
    const sizes = plan(3).concat(plan(4), plan(5)).map((s) => s.size);
    expect(sizes).toContain(0);
    expect(sizes.some((n) => n > 0 && n % (256 * 1024) === 0)).toBe(true);
    const random = seededRandom(11);
    const faults = Array.from({ length: 200 }, () => faultSchedule(random)).flat();
    for (const kind of ["start:", "query:", "final:", "delete:", "chunk#", "stall-for", "short-ack", "truncated-body", "reset-connection"]) {
      expect(faults.some((f) => f.includes(kind)), kind).toBe(true);
    }
  });
});
