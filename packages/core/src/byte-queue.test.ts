import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ByteQueue } from "./byte-queue.js";

describe("ByteQueue", () => {
  it("hands out views of the caller's buffers, never copies", () => {
    const a = new Uint8Array([1, 2, 3, 4]);
    const b = new Uint8Array([5, 6, 7]);
    const queue = new ByteQueue();
    queue.push(a);
    queue.push(new Uint8Array(0));
    queue.push(b);
    expect(queue.endOffset).toBe(7);
    const views = queue.views(2, 6);
    expect(views.map((v) => [...v])).toEqual([[3, 4], [5, 6, 7].slice(0, 2)]);
    expect(views[0]!.buffer).toBe(a.buffer);
    expect(views[1]!.buffer).toBe(b.buffer);
    expect(queue.views(0, 4)[0]).toBe(a); // a whole buffer is handed out as itself
    expect(queue.views(3, 3)).toEqual([]);
  });

  it("releases acknowledged bytes at once and returns them in order", () => {
    const queue = new ByteQueue(100);
    queue.push(new Uint8Array([1, 2, 3]));
    queue.push(new Uint8Array([4, 5]));
    expect(queue.release(101).map((v) => [...v])).toEqual([[1]]);
    expect(queue.oldestOffset).toBe(101);
    expect(queue.retainedBytes).toBe(4);
    expect(queue.release(104).map((v) => [...v])).toEqual([[2, 3], [4]]);
    expect(queue.views(104, 105).map((v) => [...v])).toEqual([[5]]);
    expect(queue.release(104)).toEqual([]);
    expect(queue.release(105).map((v) => [...v])).toEqual([[5]]);
    expect(queue.retainedBytes).toBe(0);
  });

  it("refuses ranges outside what it holds", () => {
    const queue = new ByteQueue(10);
    queue.push(new Uint8Array(5));
    expect(() => queue.views(9, 11)).toThrow(RangeError);
    expect(() => queue.views(11, 16)).toThrow(RangeError);
    expect(() => queue.views(12, 11)).toThrow(RangeError);
    expect(() => queue.release(16)).toThrow(RangeError);
  });

  it("behaves like a flat array under any sequence of pushes, views and releases", () => {
    const op = fc.oneof(
      fc.record({ push: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ release: fc.nat({ max: 60 }) }),
      fc.record({ from: fc.nat({ max: 60 }), len: fc.nat({ max: 60 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const queue = new ByteQueue();
        const flat: number[] = [];
        let oldest = 0;
        let counter = 0;
        for (const o of ops) {
          if ("push" in o) {
            const bytes = Uint8Array.from({ length: o.push }, () => counter++ & 255);
            queue.push(bytes);
            flat.push(...bytes);
          } else if ("release" in o) {
            const upTo = Math.min(flat.length, oldest + o.release);
            const dropped = queue.release(upTo).flatMap((v) => [...v]);
            expect(dropped).toEqual(flat.slice(oldest, upTo));
            oldest = upTo;
          } else {
            const from = Math.min(flat.length, oldest + o.from);
            const to = Math.min(flat.length, from + o.len);
            expect(queue.views(from, to).flatMap((v) => [...v])).toEqual(flat.slice(from, to));
          }
          expect(queue.oldestOffset).toBe(oldest);
          expect(queue.endOffset).toBe(flat.length);
          expect(queue.retainedBytes).toBe(flat.length - oldest);
        }
      }),
    );
  });
});
