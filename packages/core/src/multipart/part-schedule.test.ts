import { describe, expect, it } from "vitest";
import { MAX_OBJECT_SIZE, MAX_PARTS, MAX_PART_SIZE, MIN_PART_SIZE, PARTS_PER_BAND, fixedPartSizeFor, partSchedule } from "./part-schedule.js";

describe("partSchedule", () => {
  it("doubles every band for an unknown length, capped at 5 GiB, and fits GCS's largest object in 10,000 parts at the smallest base", () => {
    const s = partSchedule(MIN_PART_SIZE, undefined);
    expect(s.sizeOf(1)).toBe(MIN_PART_SIZE);
    expect(s.sizeOf(PARTS_PER_BAND)).toBe(MIN_PART_SIZE);
    expect(s.sizeOf(PARTS_PER_BAND + 1)).toBe(2 * MIN_PART_SIZE);
    expect(s.sizeOf(MAX_PARTS)).toBe(MAX_PART_SIZE);
    const capacity = s.startOf(MAX_PARTS) + s.sizeOf(MAX_PARTS);
    expect(capacity).toBeGreaterThanOrEqual(MAX_OBJECT_SIZE);
  });

  it("starts each part where the previous ends", () => {
    const s = partSchedule(16 * 1024 * 1024, undefined);
    let offset = 0;
    for (let n = 1; n <= MAX_PARTS; n++) {
      expect(s.startOf(n)).toBe(offset);
      offset += s.sizeOf(n);
    }
  });

  it("uses one size for a known total, raised to whole MiB when 10,000 parts would not hold it", () => {
    expect(partSchedule(MIN_PART_SIZE, 100).sizeOf(1)).toBe(MIN_PART_SIZE);
    const big = 200 * 1024 * 1024 * 1024;
    const size = fixedPartSizeFor(MIN_PART_SIZE, big);
    expect(size % (1024 * 1024)).toBe(0);
    expect(size * MAX_PARTS).toBeGreaterThanOrEqual(big);
    expect((size - 1024 * 1024) * MAX_PARTS).toBeLessThan(big);
    expect(partSchedule(MIN_PART_SIZE, big).sizeOf(9999)).toBe(size);
  });
});
