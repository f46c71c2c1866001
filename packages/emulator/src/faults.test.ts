import { describe, expect, it } from "vitest";
import { RetryTests, parseFault, parseInstruction, type RequestDescriptor, type RequestKind } from "./faults.js";

const INSERT = "storage.objects.insert";
/** A request of `storage.objects.insert` with these kinds (ending the upload when `final` is among them). */
const req = (...kinds: RequestKind[]): RequestDescriptor => ({ method: INSERT, kinds, endsUpload: kinds.includes("final") });
const other = (method: string): RequestDescriptor => ({ method, kinds: [], endsUpload: false });

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
    ["return-truncated-body-final-chunk-after-100B", { kind: "truncated-final", afterBytes: 100 }],
    ["return-truncated-body-final-chunk-after-2K", { kind: "truncated-final", afterBytes: 2048 }],
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
    expect(tests.take("id-1", other("storage.objects.list"))).toBeUndefined();
    expect(tests.take("id-1", req("start"))?.instruction).toBe("return-503");
    expect(tests.take("id-1", other("storage.objects.get"))?.instruction).toBe("return-500");
    expect(tests.take("id-1", req("chunk"))?.instruction).toBe("return-429");
    expect(tests.take("id-1", req("chunk"))).toBeUndefined();
    expect(tests.get("id-1")).toMatchObject({ completed: true, consumed: { "storage.objects.insert": ["return-503", "return-429"] } });
  });

  it("keeps a final-chunk instruction at the head until a request ends the upload", () => {
    const tests = new RetryTests(() => "x");
    tests.register({ "storage.objects.insert": ["return-broken-stream-final-chunk-after-10B", "return-503"] });
    expect(tests.take("x", req("chunk"))).toBeUndefined();
    expect(tests.take("x", req("chunk", "final"))?.fault).toEqual({ kind: "broken-final", afterBytes: 10 });
    expect(tests.take("x", req("query"))?.instruction).toBe("return-503");
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

describe("request kinds and ordinals", () => {
  it.each([
    ["start:return-503", { kind: "start", ordinal: undefined, fault: { kind: "status", status: 503 } }],
    ["chunk#2:return-reset-connection", { kind: "chunk", ordinal: 2, fault: { kind: "reset" } }],
    ["mp-part#10:return-503-after-0K", { kind: "mp-part", ordinal: 10, fault: { kind: "status-after", status: 503, afterBytes: 0 } }],
    ["final:return-truncated-body-final-chunk-after-5B", { kind: "final", ordinal: undefined, fault: { kind: "truncated-final", afterBytes: 5 } }],
    ["return-429", { kind: undefined, ordinal: undefined, fault: { kind: "status", status: 429 } }],
  ])("parses %s", (text, parsed) => {
    expect(parseInstruction(text)).toEqual(parsed);
  });

  it.each(["upload:return-503", "chunk#0:return-503", "chunk#:return-503", "chunk#2:return-maybe", "chunk:", ":return-503", "CHUNK:return-503"])(
    "refuses %s",
    (text) => {
      expect(parseInstruction(text)).toBeUndefined();
    },
  );

  it("a kind-filtered head waits for its request; other requests pass and leave it in place", () => {
    const tests = new RetryTests(() => "k");
    tests.register({ [INSERT]: ["query:return-503", "return-500"] });
    expect(tests.take("k", req("start"))).toBeUndefined();
    expect(tests.take("k", req("chunk"))).toBeUndefined();
    expect(tests.take("k", req("query"))?.instruction).toBe("query:return-503");
    // The next instruction has no kind: the very next request takes it, whatever it is.
    expect(tests.take("k", req("chunk"))?.instruction).toBe("return-500");
    expect(tests.get("k")?.completed).toBe(true);
  });

  it("#N is the Nth request of that kind since registration, counting those that passed before the instruction came up", () => {
    const tests = new RetryTests(() => "n");
    tests.register({ [INSERT]: ["start:return-503", "chunk#3:return-reset-connection", "chunk#4:return-503"] });
    // Two chunks go by while the start instruction still heads the list: they count.
    expect(tests.take("n", req("chunk"))).toBeUndefined();
    expect(tests.take("n", req("chunk"))).toBeUndefined();
    expect(tests.take("n", req("start"))?.instruction).toBe("start:return-503");
    expect(tests.take("n", req("query"))).toBeUndefined();
    expect(tests.take("n", req("chunk"))?.instruction).toBe("chunk#3:return-reset-connection");
    expect(tests.take("n", req("chunk", "final"))?.instruction).toBe("chunk#4:return-503");
  });

  it("a final chunk is both a chunk and a final request; the final-chunk faults need a request that ends the upload", () => {
    const tests = new RetryTests(() => "f");
    tests.register({ [INSERT]: ["final:return-503", "chunk:return-broken-stream-final-chunk-after-1B"] });
    expect(tests.take("f", req("chunk"))).toBeUndefined();
    expect(tests.take("f", req("chunk", "final"))?.instruction).toBe("final:return-503");
    expect(tests.take("f", req("chunk"))).toBeUndefined();
    expect(tests.take("f", req("final"))).toBeUndefined(); // ends the upload, but is not a chunk (bytes */N)
    expect(tests.take("f", req("chunk", "final"))?.fault).toEqual({ kind: "broken-final", afterBytes: 1 });
  });

  it("refuses kinds on other methods, ordinals that cannot come, and lists every valid form for an unknown one", () => {
    const tests = new RetryTests(() => "r");
    expect(() => tests.register({ "storage.objects.get": ["start:return-503"] })).toThrow(/belong to "storage.objects.insert"/);
    expect(() => tests.register({ [INSERT]: ["chunk#3:return-503", "chunk#2:return-503"] })).toThrow(/would have gone by/);
    expect(() => tests.register({ [INSERT]: ["chunk#2:return-503", "chunk#2:return-500"] })).toThrow(/would have gone by/);
    expect(() => tests.register({ [INSERT]: ["chunk#2:return-fast"] })).toThrow(
      /Unknown instruction\(s\).*chunk#2:return-fast.*Valid instructions: return-NNN.*return-truncated-body-final-chunk-after-NB.*start, chunk, query, final, delete/,
    );
  });
});
