import { describe, expect, it } from "vitest";
import type { TransportRequest } from "../transport.js";
import { SimpleAbortController } from "../abort.js";
import { crc32c } from "./crc32c.js";
import { GcsModel, ModelTransportError } from "./gcs-model.js";

const C = 262_144;

function start(model: GcsModel, extra: Record<string, string> = {}): string {
  const body = new TextEncoder().encode(JSON.stringify({ name: "o", contentType: "text/plain" }));
  const outcome = model.handle({
    method: "POST",
    url: "https://storage.googleapis.com/upload/storage/v1/b/bkt/o?uploadType=resumable&name=o",
    headers: { "content-type": "application/json; charset=UTF-8", "content-length": String(body.length), ...extra },
    body: [body],
    bodyLength: body.length,
  });
  if (outcome.type !== "response") throw new Error("no response");
  expect(outcome.response.status).toBe(200);
  return outcome.response.headers.location!;
}

function put(uri: string, range: string, body: Uint8Array = new Uint8Array(0), headers: Record<string, string> = {}): TransportRequest {
  return { method: "PUT", url: uri, headers: { "content-length": String(body.length), "content-range": range, ...headers }, body: body.length ? [body] : [], bodyLength: body.length };
}

function status(model: GcsModel, request: TransportRequest): { status: number; range?: string; body: string } {
  const outcome = model.handle(request);
  if (outcome.type !== "response") throw new Error(`no response: ${outcome.type}`);
  return { status: outcome.response.status, range: outcome.response.headers.range, body: outcome.response.body };
}

describe("GcsModel", () => {
  it("runs a whole upload: chunks, 308 ranges, final object with CRC32C", () => {
    const model = new GcsModel();
    const uri = start(model);
    const data = Uint8Array.from({ length: C + 10 }, (_, i) => i & 255);
    expect(status(model, put(uri, "bytes */*"))).toMatchObject({ status: 308, range: undefined });
    expect(status(model, put(uri, `bytes 0-${C - 1}/*`, data.subarray(0, C)))).toMatchObject({ status: 308, range: `bytes=0-${C - 1}` });
    const final = status(model, put(uri, `bytes ${C}-${C + 9}/${C + 10}`, data.subarray(C)));
    expect(final.status).toBe(200);
    const object = JSON.parse(final.body) as Record<string, string>;
    expect(object).toMatchObject({ name: "o", bucket: "bkt", size: String(C + 10), contentType: "text/plain" });
    expect(Buffer.from(object.crc32c!, "base64").readUInt32BE(0)).toBe(crc32c(data));
    expect(model.object("bkt", "o")!.content).toEqual(data);
    // Later requests to a final session keep answering 200 with the object.
    expect(status(model, put(uri, "bytes */*")).status).toBe(200);
    expect(model.violations).toEqual([]);
  });

  it("records client mistakes: gaps, resends, short non-final chunks, bad ranges", () => {
    const model = new GcsModel();
    const uri = start(model);
    expect(status(model, put(uri, `bytes ${C}-${2 * C - 1}/*`, new Uint8Array(C))).status).toBe(400);
    expect(status(model, put(uri, "bytes 0-99/*", new Uint8Array(100))).status).toBe(400);
    expect(status(model, put(uri, `bytes 0-${C - 1}/*`, new Uint8Array(C))).status).toBe(308);
    expect(status(model, put(uri, `bytes 0-${2 * C - 1}/*`, new Uint8Array(2 * C))).range).toBe(`bytes=0-${2 * C - 1}`);
    expect(status(model, put(uri, "nonsense")).status).toBe(400);
    expect(model.violations).toHaveLength(4);
    expect(model.violations.join("\n")).toMatch(/gap[\s\S]*multiple of 256 KiB[\s\S]*below the persisted[\s\S]*malformed/);
  });

  it("persists only 256 KiB-aligned prefixes of a broken request, and lost responses still commit", () => {
    const model = new GcsModel({
      faults: [undefined, { kind: "status", status: 503, afterBytes: C + 5 }, { kind: "reset", afterBytes: 100 }, { kind: "short-ack", keepBytes: C + 1 }, { kind: "lose-response" }],
    });
    const uri = start(model);
    expect(status(model, put(uri, `bytes 0-${3 * C - 1}/*`, new Uint8Array(3 * C)))).toMatchObject({ status: 503 });
    expect(model.session(uri)!.persisted).toBe(C);
    expect(model.handle(put(uri, `bytes ${C}-${4 * C - 1}/*`, new Uint8Array(3 * C)))).toEqual({ type: "error", kind: "network" });
    expect(model.session(uri)!.persisted).toBe(C);
    expect(status(model, put(uri, `bytes ${C}-${4 * C - 1}/*`, new Uint8Array(3 * C))).range).toBe(`bytes=0-${2 * C - 1}`);
    expect(model.handle(put(uri, `bytes ${2 * C}-${2 * C + 9}/${2 * C + 10}`, new Uint8Array(10)))).toEqual({ type: "error", kind: "network" });
    expect(model.session(uri)!.state).toBe("final");
    expect(model.session(uri)!.history).toEqual([0, C, 2 * C, 2 * C + 10]);
  });

  it("checks X-Goog-Hash on finalization and refuses a mismatch with 400", () => {
    const model = new GcsModel();
    const uri = start(model);
    const refused = status(model, put(uri, "bytes 0-2/3", new Uint8Array([1, 2, 3]), { "x-goog-hash": "crc32c=AAAAAA==" }));
    expect(refused.status).toBe(400);
    expect(refused.body).toContain("CRC32C");
    expect(model.session(uri)!.state).toBe("active");
  });

  it("answers the DELETE of a finalized session with the object, and can cut a final answer's body in a complete message", () => {
    const data = Uint8Array.from({ length: 10 }, (_, i) => i);
    const model = new GcsModel({ faults: (info) => (info.index === 1 ? { kind: "cut-body", keepBytes: 30 } : undefined) });
    const uri = start(model);
    const cut = status(model, put(uri, "bytes 0-9/10", data));
    expect(cut.status).toBe(200);
    expect(cut.body).toHaveLength(30);
    expect(() => JSON.parse(cut.body) as unknown).toThrow(SyntaxError);
    expect(model.object("bkt", "o")!.content).toEqual(data); // committed all the same
    const deleted = status(model, { method: "DELETE", url: uri, headers: {}, body: [], bodyLength: 0 });
    expect(deleted.status).toBe(200);
    expect(JSON.parse(deleted.body)).toMatchObject({ name: "o", bucket: "bkt", size: "10", crc32c: expect.any(String) as unknown });
  });

  it("deletes sessions (499, then 404), expires them (410), and checks preconditions (412)", () => {
    const model = new GcsModel();
    const uri = start(model);
    expect(status(model, { method: "DELETE", url: uri, headers: {}, body: [], bodyLength: 0 }).status).toBe(499);
    expect(status(model, put(uri, "bytes */*")).status).toBe(404);
    const second = start(model);
    model.expire(second);
    expect(status(model, put(second, "bytes */*")).status).toBe(410);
    model.putObject("bkt", "o", new Uint8Array(1));
    const body = new TextEncoder().encode("{}");
    const precondition = model.handle({
      method: "POST",
      url: "https://storage.googleapis.com/upload/storage/v1/b/bkt/o?uploadType=resumable&name=o&ifGenerationMatch=0",
      headers: { "content-type": "application/json" },
      body: [body],
      bodyLength: body.length,
    });
    expect(precondition.type === "response" && precondition.response.status).toBe(412);
  });

  it("demands the session's encryption key on every request", () => {
    const model = new GcsModel();
    const uri = start(model, { "x-goog-encryption-key-sha256": "abc" });
    expect(status(model, put(uri, "bytes */*")).status).toBe(400);
    expect(status(model, put(uri, "bytes */*", new Uint8Array(0), { "x-goog-encryption-key-sha256": "abc" })).status).toBe(308);
    expect(model.violations).toHaveLength(1);
  });

  it("as a Transport: answers asynchronously, reports progress, and a stall ends only by abort", async () => {
    const model = new GcsModel({ faults: (info) => (info.index === 1 ? { kind: "stall", afterBytes: C } : undefined) });
    const uri = start(model);
    const progress: number[] = [];
    const controller = new SimpleAbortController();
    const pending = model.send(put(uri, `bytes 0-${2 * C - 1}/*`, new Uint8Array(2 * C)), { signal: controller.signal, credentials: false, maxResponseBytes: 1 << 20, onUploadProgress: (n) => progress.push(n) });
    let settled = false;
    pending.catch(() => (settled = true));
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(settled).toBe(false);
    expect(progress).toEqual([C]);
    controller.abort("stop");
    await expect(pending).rejects.toBeInstanceOf(ModelTransportError);
    await expect(pending).rejects.toMatchObject({ kind: "aborted" });
    const ok = await model.send(put(uri, "bytes */*"), { signal: new SimpleAbortController().signal, credentials: false, maxResponseBytes: 1 << 20 });
    expect(ok).toMatchObject({ status: 308, headers: { range: `bytes=0-${C - 1}` } });
    const aborted = new SimpleAbortController();
    aborted.abort();
    await expect(model.send(put(uri, "bytes */*"), { signal: aborted.signal, credentials: false, maxResponseBytes: 1 << 20 })).rejects.toMatchObject({ kind: "aborted" });
  });
});
