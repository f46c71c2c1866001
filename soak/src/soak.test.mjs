// The short seeded soak that CI keeps inside `pnpm test` (the same code as `pnpm soak`, fewer uploads), and
// the plans: seeded, covering the sizes and the fault vocabulary they claim to.
import { describe, expect, it } from "vitest";
import { faultSchedule, formatTable, runSoak, scenario, seededRandom } from "./soak.mjs";

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

  it("a short seeded run: every success byte-exact, no wrong object, no hang, no report the bucket contradicts", async () => {
    const result = await runSoak({ uploads: 40, seed: 20261201, timeLimitMs: 30_000, hangMs: 20_000, concurrency: 3 });
    const table = formatTable(result);
    console.log(table);
    expect(result.total.uploads).toBeGreaterThanOrEqual(10);
    expect(result.total.byteExact).toBeGreaterThan(0);
    expect(result.total.faultsConsumed).toBeGreaterThan(0);
    expect(result.rows.map((row) => row.adapter)).toEqual(expect.arrayContaining(["node", "cli"]));
    expect(result.total.notes, table).toEqual([]);
    expect(result.ok, table).toBe(true);
  }, 60_000);
});
