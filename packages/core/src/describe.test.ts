import { describe, expect, it } from "vitest";
import { describeValue } from "./describe.js";

describe("describeValue", () => {
  it("names every kind of value the same way everywhere", () => {
    expect(describeValue(null)).toBe("null");
    expect(describeValue(undefined)).toBe("undefined");
    expect(describeValue("abc")).toBe('"abc"');
    expect(describeValue(42)).toBe("42");
    expect(describeValue(false)).toBe("false");
    expect(describeValue(10n)).toBe("10");
    expect(describeValue([1])).toBe("an array");
    expect(describeValue({})).toBe("an object");
    expect(describeValue(Object.create(null))).toBe("an object");
    expect(describeValue(new Uint16Array(1))).toBe("a Uint16Array");
    expect(describeValue(() => 1)).toBe("a function");
    expect(describeValue(Symbol("s"))).toBe("a symbol");
  });

  it("cuts long strings, so a message stays one line and never echoes a long secret in full", () => {
    const text = describeValue("x".repeat(200));
    expect(text).toBe(JSON.stringify(`${"x".repeat(80)}…`));
  });
});
