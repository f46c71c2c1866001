/**
 * `singleRequest: "auto"` (the default) in the upload layer: a source that ends before the first
 * chunk is full goes as one JSON API multipart request; one that fills it starts a resumable
 * session with the held bytes first. The resumable side is the in-memory GCS model; the
 * `uploadType=multipart` side a small fake that stores what the body's media part holds.
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { CHUNK, bytesOf, crcB64 } from "../harness.test-utils.js";
import { flushMicrotasks, runUntilSettled, type FakeClock } from "../test-support/fake-clock.js";
import { TransportError, type Transport, type TransportRequest, type TransportResponse } from "../transport.js";
import { decodeUtf8 } from "../utf8.js";
import { MemoryCheckpointStore } from "./checkpoint-store.js";
import { createUpload, type Upload } from "./create-upload.js";
import type { UploadEventMap } from "./events.js";
import { RecordingTransport, testRuntime } from "./test-runtime.test-utils.js";

const target = { bucket: "bkt", name: "obj" } as const;

/** What the fake does with the next single request: answer normally, answer a status, or reset. */
type SingleFault = { readonly status: number } | "reset" | "lose-response" | "stall";

function concat(views: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(views.reduce((n, v) => n + v.length, 0));
  let at = 0;
  for (const v of views) {
    out.set(v, at);
    at += v.length;
  }
  return out;
}

/** The media part of a `multipart/related` body, and the metadata part's JSON. */
function parts(request: TransportRequest): { metadata: Record<string, unknown>; media: Uint8Array } {
  const boundary = /boundary=(\S+)/.exec(request.headers["content-type"] ?? "")![1]!;
  const body = concat(request.body);
  const text = decodeUtf8(body);
  const first = text.indexOf("\r\n\r\n") + 4;
  const metadataEnd = text.indexOf(`\r\n--${boundary}`, first);
  const metadata = JSON.parse(text.slice(first, metadataEnd)) as Record<string, unknown>;
  // The media part starts after its own header block; locate it in bytes (the media may not be text).
  const headerEnd = text.indexOf("\r\n\r\n", metadataEnd) + 4;
  const tail = new TextEncoder().encode(`\r\n--${boundary}--\r\n`).length;
  const prefix = new TextEncoder().encode(text.slice(0, headerEnd)).length;
  return { metadata, media: body.subarray(prefix, body.length - tail) };
}

/** Routes `uploadType=multipart` to a fake that stores objects, everything else to the GCS model. */
function setup(faults: SingleFault[] = [], answerAfterMs = 0) {
  const base = testRuntime();
  const objects = new Map<string, Uint8Array>();
  const singles: TransportRequest[] = [];
  let generation = 100;
  const router: Transport = {
    specificationVersion: 2,
    capabilities: { uploadProgress: false },
    send(request, options) {
      if (!request.url.includes("uploadType=multipart")) return base.model.send(request, options);
      singles.push(request);
      const fault = faults.shift();
      if (fault === "reset") return Promise.reject(new TransportError("network", "connection reset"));
      if (fault === "stall") {
        // Never answers: only the driver's stall timer (through the abort signal) ends it.
        return new Promise<TransportResponse>((_resolve, reject) => options.signal.addEventListener("abort", () => reject(new TransportError("aborted", "aborted"))));
      }
      if (fault !== undefined && fault !== "lose-response") {
        return Promise.resolve({ status: fault.status, headers: { "content-type": "application/json" }, body: JSON.stringify({ error: { code: fault.status, message: "injected" } }) });
      }
      const { metadata, media } = parts(request);
      const name = new URL(request.url).searchParams.get("name")!;
      objects.set(name, Uint8Array.from(media));
      generation += 1;
      if (fault === "lose-response") return Promise.reject(new TransportError("network", "connection reset after the object was stored"));
      const response: TransportResponse = {
        status: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ bucket: "bkt", name, size: String(media.length), generation: String(generation), crc32c: crcB64(media), ...(metadata.contentType === undefined ? {} : { contentType: metadata.contentType }) }),
      };
      if (answerAfterMs === 0) return Promise.resolve(response);
      return new Promise<TransportResponse>((resolve) => base.clock.setTimer(() => resolve(response), answerAfterMs));
    },
  };
  const transport = new RecordingTransport(router);
  const runtime = { ...base.runtime, createTransport: () => transport };
  return { ...base, runtime, transport, objects, singles };
}

async function feed(upload: Upload, clock: FakeClock, source: Uint8Array, piece = 64 * 1024): Promise<unknown> {
  const work = (async () => {
    for (let at = 0; at < source.length; at += piece) await upload.write(source.subarray(at, at + piece));
    return upload.end();
  })();
  return runUntilSettled(clock, work);
}

function record<K extends keyof UploadEventMap>(upload: Upload, type: K): UploadEventMap[K][] {
  const seen: UploadEventMap[K][] = [];
  upload.on(type, (payload) => seen.push(payload));
  return seen;
}

describe('singleRequest: "auto" (the default)', () => {
  it("a source that ends inside the first chunk is one request: no session, no checkpoint, the object verified", async () => {
    const { runtime, clock, transport, objects } = setup();
    const store = new MemoryCheckpointStore();
    const source = bytesOf(CHUNK - 1);
    const upload = createUpload({ ...target, contentType: "text/plain", chunkSize: CHUNK, checkpointStore: store }, runtime);
    const sessions = record(upload, "session");
    const progress = record(upload, "progress");
    const object = (await feed(upload, clock, source)) as Record<string, string>;
    expect(object).toMatchObject({ size: String(source.length), crc32c: crcB64(source), contentType: "text/plain" });
    expect(transport.sent.map((s) => [s.method, new URL(s.url).searchParams.get("uploadType")])).toEqual([["POST", "multipart"]]);
    expect(Buffer.from(objects.get("obj")!).equals(Buffer.from(source))).toBe(true);
    expect(sessions).toEqual([]);
    expect(upload.checkpoint()).toBeUndefined();
    expect(await store.load()).toBeUndefined();
    expect(progress.at(-1)).toEqual({ bytesSent: source.length, bytesPersisted: source.length, totalBytes: source.length });
    expect(upload.progress).toEqual(progress.at(-1));
    expect(transport.closed).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it("an empty source is one request for a 0-byte object", async () => {
    const { runtime, clock, transport } = setup();
    const upload = createUpload({ ...target }, runtime);
    await expect(runUntilSettled(clock, upload.end())).resolves.toMatchObject({ size: "0" });
    expect(transport.sent).toHaveLength(1);
  });

  it("a source that fills the first chunk starts a session, the held bytes first and in order", async () => {
    const { runtime, clock, model, transport } = setup();
    const source = bytesOf(2 * CHUNK + 7);
    const upload = createUpload({ ...target, chunkSize: CHUNK }, runtime);
    const sessions = record(upload, "session");
    await feed(upload, clock, source, 100_000);
    expect(Buffer.from(model.object("bkt", "obj")!.content!).equals(Buffer.from(source))).toBe(true);
    expect(sessions).toHaveLength(1);
    expect(transport.sent[0]!.url).toContain("uploadType=resumable");
    expect(transport.sent.some((s) => s.url.includes("uploadType=multipart"))).toBe(false);
  });

  it("exactly one chunk is not below the first chunk: a session", async () => {
    const { runtime, clock, transport } = setup();
    await feed(createUpload({ ...target, chunkSize: CHUNK }, runtime), clock, bytesOf(CHUNK));
    expect(transport.sent[0]!.url).toContain("uploadType=resumable");
  });

  it("with a totalSize of at least one chunk the session starts at once, before the source ends", async () => {
    const { runtime, clock, transport } = setup();
    const upload = createUpload({ ...target, chunkSize: CHUNK, totalSize: 3 * CHUNK }, runtime);
    await runUntilSettled(clock, upload.write(bytesOf(CHUNK / 2)));
    await flushMicrotasks();
    expect(transport.sent[0]?.url).toContain("uploadType=resumable");
    void upload.abort();
  });

  it("a transient fault resends the whole request; a reset too; the retry event says so", async () => {
    const { runtime, clock, singles, objects } = setup([{ status: 503 }, "reset"]);
    const upload = createUpload({ ...target, retry: { initialDelayMs: 10, jitter: "none" } }, runtime);
    const retries = record(upload, "retry");
    const source = bytesOf(1000);
    await feed(upload, clock, source);
    expect(singles).toHaveLength(3);
    expect(retries.map((r) => r.attempt)).toEqual([1, 2]);
    expect(retries[0]!.error.status).toBe(503);
    expect(Buffer.from(objects.get("obj")!).equals(Buffer.from(source))).toBe(true);
  });

  it("a stalled request is abandoned after idleTimeoutMs and resent whole", async () => {
    const { runtime, clock, singles, objects } = setup(["stall"]);
    const upload = createUpload({ ...target, idleTimeoutMs: 1000, retry: { initialDelayMs: 10, jitter: "none" } }, runtime);
    const retries = record(upload, "retry");
    const source = bytesOf(777);
    await feed(upload, clock, source);
    expect(singles).toHaveLength(2);
    expect(retries[0]!.error.message).toMatch(/timeout/);
    expect(Buffer.from(objects.get("obj")!).equals(Buffer.from(source))).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it("a 412 after an attempt whose outcome was lost looks the object up and accepts this upload's", async () => {
    // Lost answer (the object was stored), then the resend meets ifGenerationMatch: 0 -> 412; the lookup finds our bytes.
    const { runtime, clock, singles, objects, transport } = setup(["lose-response", { status: 412 }]);
    const source = bytesOf(5000);
    const lookup: Transport = {
      specificationVersion: 2,
      capabilities: { uploadProgress: false },
      send: (request, options) => {
        if (request.method === "GET" && request.url.includes("/storage/v1/b/bkt/o/obj")) {
          const stored = objects.get("obj")!;
          return Promise.resolve({ status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify({ bucket: "bkt", name: "obj", size: String(stored.length), generation: "7", crc32c: crcB64(stored) }) });
        }
        return transport.send(request, options);
      },
    };
    const upload = createUpload({ ...target, ifGenerationMatch: 0, retry: { initialDelayMs: 10, jitter: "none" } }, { ...runtime, createTransport: () => lookup });
    await expect(feed(upload, clock, source)).resolves.toMatchObject({ size: "5000", crc32c: crcB64(source) });
    expect(singles).toHaveLength(2);
  });

  it("cancel before the source ended: nothing was sent, done rejects cancelled", async () => {
    const { runtime, clock, transport } = setup();
    const upload = createUpload({ ...target, chunkSize: CHUNK }, runtime);
    await upload.write(bytesOf(1000));
    await expect(runUntilSettled(clock, upload.abort())).resolves.toEqual({ outcome: "cancelled" });
    await expect(upload.done).rejects.toMatchObject({ code: "cancelled" });
    await expect(upload.write(bytesOf(1))).rejects.toMatchObject({ code: "cancelled" });
    expect(transport.sent).toEqual([]);
  });

  it("keep before the source ended: kept without a checkpoint (nothing exists), done rejects aborted", async () => {
    const { runtime, clock, transport } = setup();
    const upload = createUpload({ ...target, chunkSize: CHUNK, onAbort: "keep" }, runtime);
    await upload.write(bytesOf(1000));
    await expect(runUntilSettled(clock, upload.abort("stop"))).resolves.toEqual({ outcome: "kept" });
    await expect(upload.done).rejects.toMatchObject({ code: "aborted" });
    expect(transport.sent).toEqual([]);
  });

  it("a cancel while the request is in flight lets it settle: the created object is reported committed", async () => {
    const { runtime, clock, singles } = setup([], 50);
    const upload = createUpload({ ...target }, runtime);
    await upload.write(bytesOf(10));
    void upload.end();
    await flushMicrotasks();
    expect(singles).toHaveLength(1); // on its way, its answer 50 ms out
    const outcome = await runUntilSettled(clock, upload.abort());
    expect(outcome.outcome).toBe("committed");
    await expect(upload.done).resolves.toMatchObject({ size: "10" });
  });

  it("onAbort keep while the request is in flight: nothing to keep, so it is let settle and the object reported committed", async () => {
    const { runtime, clock, singles } = setup([], 50);
    const upload = createUpload({ ...target, onAbort: "keep" }, runtime);
    await upload.write(bytesOf(10));
    void upload.end();
    await flushMicrotasks();
    expect(singles).toHaveLength(1);
    const outcome = await runUntilSettled(clock, upload.abort("stop"));
    expect(outcome.outcome).toBe("committed");
    await expect(upload.done).resolves.toMatchObject({ size: "10" });
  });

  it("credentials go to the endpoint over https, not over plain http to loopback", async () => {
    const https = setup();
    await feed(createUpload({ ...target }, https.runtime), https.clock, bytesOf(10));
    expect(https.transport.sent.map((s) => s.credentials)).toEqual([true]);
    const http = setup();
    await feed(createUpload({ ...target, apiEndpoint: "http://127.0.0.1:9" }, http.runtime), http.clock, bytesOf(10));
    expect(http.transport.sent.map((s) => [s.credentials, s.url.startsWith("http://127.0.0.1:9/upload/storage/v1/b/bkt/o?uploadType=multipart")])).toEqual([[false, true]]);
  });

  it("CSEK: the key's headers, with its real SHA-256, go on the one request", async () => {
    const { runtime, clock, transport, hashed } = setup();
    const key = new Uint8Array(32).fill(3);
    await feed(createUpload({ ...target, encryptionKey: key }, runtime), clock, bytesOf(10));
    expect(hashed).toHaveLength(1);
    expect(transport.sent[0]!.headers["x-goog-encryption-algorithm"]).toBe("AES256");
    expect(transport.sent[0]!.headers["x-goog-encryption-key-sha256"]).not.toBe(Buffer.alloc(32).toString("base64"));
  });

  it("gzip: the one request carries the compressed bytes and contentEncoding gzip in its metadata", async () => {
    const { runtime, clock, singles, objects } = setup();
    const inputs: Uint8Array[] = [];
    const gzip = () => ({
      push(bytes: Uint8Array) {
        inputs.push(Uint8Array.from(bytes));
        return Promise.resolve([]);
      },
      finish() {
        return Promise.resolve([new Uint8Array(gzipSync(Buffer.concat(inputs)))]);
      },
    });
    const text = new TextEncoder().encode("line\n".repeat(1000));
    await feed(createUpload({ ...target, gzip: true }, { ...runtime, gzip }), clock, text, 777);
    expect(singles).toHaveLength(1);
    expect(parts(singles[0]!).metadata).toMatchObject({ contentEncoding: "gzip" });
    expect(gunzipSync(objects.get("obj")!).toString()).toBe("line\n".repeat(1000));
  });

  it('"never" always starts a session; origin, sessionUri and a checkpoint keep the resumable path too', async () => {
    const never = setup();
    await feed(createUpload({ ...target, singleRequest: "never" }, never.runtime), never.clock, bytesOf(10));
    expect(never.transport.sent[0]!.url).toContain("uploadType=resumable");
    const origin = setup();
    await feed(createUpload({ ...target, origin: "https://app.example.com" }, origin.runtime), origin.clock, bytesOf(10));
    expect(origin.transport.sent[0]!.url).toContain("uploadType=resumable");
  });

  it("refuses a singleRequest outside its set, naming it, before a transport exists", () => {
    const { runtime, contexts } = testRuntime();
    expect(() => createUpload({ ...target, singleRequest: "sometimes" as "auto" }, runtime)).toThrow(expect.objectContaining({ code: "invalid-argument", field: "singleRequest" }) as Error);
    expect(contexts).toEqual([]);
  });
});
