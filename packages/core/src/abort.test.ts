import { describe, expect, it } from "vitest";
import { SimpleAbortController } from "./abort.js";

describe("SimpleAbortController", () => {
  it("aborts once, runs each listener once, and survives a throwing listener", () => {
    const controller = new SimpleAbortController();
    const calls: string[] = [];
    const removed = (): void => void calls.push("removed");
    controller.signal.addEventListener("abort", () => calls.push("a"));
    controller.signal.addEventListener("abort", () => {
      throw new Error("listener bug");
    });
    controller.signal.addEventListener("abort", removed);
    controller.signal.addEventListener("abort", () => calls.push("c"), { once: true });
    controller.signal.removeEventListener("abort", removed);
    expect(controller.signal.aborted).toBe(false);
    controller.abort("why");
    controller.abort("again");
    expect(calls).toEqual(["a", "c"]);
    expect(controller.signal).toMatchObject({ aborted: true, reason: "why" });
    controller.signal.addEventListener("abort", () => calls.push("late"));
    expect(calls).toEqual(["a", "c"]);
  });
});
