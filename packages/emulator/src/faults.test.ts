import { describe, expect, it } from "vitest";
import { RetryTests, parseFault } from "./faults.js";

describe("instruction grammar", () => {
  it.each([
    ["return-503", { kind: "status", status: 503 }],
    ["return-408", { kind: "status", status: 408 }],
    ["return-503-after-256K", { kind: "status-after", status: 503, afterBytes: 262144 }],
    ["return-reset-connection", { kind: "reset" }],
    ["return-reset-connection-after-256K", { kind: "reset-after", afterBytes: 262144 }],
    ["stall-for-3s-after-128K", { kind: "stall", stallMs: 3000, afterBytes: 131072 }],
    ["stall-for-250ms-after-0K", { kind: "stall", stallMs: 250, afterBytes: 0 }],
    ["return-broken-stream", { kind: "broken-stream" }],
    ["return-broken-stream-after-2K", { kind: "broken-stream-after", afterBytes: 2048 }],
    ["return-broken-stream-final-chunk-after-100B", { kind: "broken-final", afterBytes: 100 }],
    ["return-broken-stream-final-chunk-after-1K", { kind: "broken-final", afterBytes: 1024 }],
    ["return-short-ack-512K", { kind: "short-ack", bytes: 524288 }],
  ])("%s", (text, fault) => {
    expect(parseFault(text)).toEqual(fault);
  });

  it.each(["return-200", "return-999", "return-503-after-1M", "stall-for-3h-after-1K", "reset", " return-503", "return-short-ack"])(
    "refuses %s",
    (text) => {
      expect(parseFault(text)).toBeUndefined();
    },
  );
});

describe("RetryTests", () => {
  it("consumes one instruction per matching request, in order, and only for its method", () => {
    const tests = new RetryTests(() => "id-1");
    tests.register({ "storage.objects.insert": ["return-503", "return-429"], "storage.objects.get": ["return-500"] });
    expect(tests.take("id-1", "storage.objects.list", false)).toBeUndefined();
    expect(tests.take("id-1", "storage.objects.insert", false)?.instruction).toBe("return-503");
    expect(tests.take("id-1", "storage.objects.get", false)?.instruction).toBe("return-500");
    expect(tests.take("id-1", "storage.objects.insert", false)?.instruction).toBe("return-429");
    expect(tests.take("id-1", "storage.objects.insert", false)).toBeUndefined();
    expect(tests.get("id-1")).toMatchObject({ completed: true, consumed: { "storage.objects.insert": ["return-503", "return-429"] } });
  });

  it("keeps a final-chunk instruction at the head until a request ends the upload", () => {
    const tests = new RetryTests(() => "x");
    tests.register({ "storage.objects.insert": ["return-broken-stream-final-chunk-after-10B", "return-503"] });
    expect(tests.take("x", "storage.objects.insert", false)).toBeUndefined();
    expect(tests.take("x", "storage.objects.insert", true)?.fault).toEqual({ kind: "broken-final", afterBytes: 10 });
    expect(tests.take("x", "storage.objects.insert", false)?.instruction).toBe("return-503");
  });

  it("refuses malformed registrations and duplicate ids", () => {
    const tests = new RetryTests(() => "same");
    expect(() => tests.register(["return-503"])).toThrow(/must be an object/);
    expect(() => tests.register({ "storage.objects.insert": "return-503" })).toThrow(/list of strings/);
    expect(() => tests.register({ "storage.objects.insert": ["return-5xx"] })).toThrow(/Unknown instruction/);
    tests.register({});
    expect(() => tests.register({})).toThrow(/already exists/);
    expect(tests.delete("same")).toBe(true);
    expect(tests.delete("same")).toBe(false);
  });
});
