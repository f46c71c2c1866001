/**
 * The upload layer with `parallelism` / `partSize`: the XML multipart engine behind the same
 * surface (events, checkpoint store, abort policy, trust rules, CSEK, gzip), against the in-memory
 * XML multipart model. No sockets.
 */
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { crc32cOf } from "@resumable-gcs/test-utils/node";
import { describe, expect, it } from "vitest";
import { nodeChecksums, crcB64 } from "../harness.test-utils.js";
import { ValidationError } from "../errors.js";
import { MiB, PART, sourceOf } from "../multipart/multipart.test-utils.js";
import { sealMultipartCheckpoint, type MultipartCheckpoint } from "../multipart/multipart-checkpoint.js";
import { XmlMultipartModel, type XmlFaultSchedule } from "../multipart/xml-multipart-model.js";
import { FakeClock, flushMicrotasks, runUntilSettled } from "../test-support/fake-clock.js";
import { seededRandom } from "../test-support/random.js";
import { TransportError, type Transport, type TransportRequest, type TransportResponse, type TransportSendOptions } from "../transport.js";
import { MemoryCheckpointStore } from "./checkpoint-store.js";
import { createUpload, type Upload } from "./create-upload.js";
import type { UploadEventMap } from "./events.js";
import type { UploadOptions } from "./options.js";
import type { TransportContext, UploadRuntime } from "./runtime.js";
import { isMultipartCheckpoint, type UploadCheckpoint } from "./upload-checkpoint.js";

const target = { bucket: "bkt", name: "obj" } as const;

interface SentRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly credentials: boolean;
}

/** The model behind an asynchronous transport that answers after 20 fake ms and counts concurrency. */
function xmlRuntime(faults?: XmlFaultSchedule, overrides: Partial<UploadRuntime> = {}) {
  const clock = new FakeClock();
  const model = new XmlMultipartModel({ md5: nodeChecksums.md5!, crc32c: crc32cOf, ...(faults === undefined ? {} : { faults }) });
  const sent: SentRequest[] = [];
  const contexts: TransportContext[] = [];
  let inFlight = 0;
  const stats = { maxInFlight: 0, closed: 0 };
  const transport: Transport = {
    specificationVersion: 2,
    capabilities: { uploadProgress: false },
    send(request: TransportRequest, options: TransportSendOptions): Promise<TransportResponse> {
      sent.push({ method: request.method, url: request.url, headers: request.headers, credentials: options.credentials });
      inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
      return new Promise<TransportResponse>((resolve, reject) => {
        let settled = false;
        const finish = (): boolean => {
          if (settled) return false;
          settled = true;
          inFlight--;
          return true;
        };
        options.signal.addEventListener("abort", () => {
          if (finish()) reject(new TransportError("aborted", "aborted"));
        });
        clock.setTimer(() => {
          if (settled) return;
          const outcome = model.handle(request);
          if (outcome.type === "stall") return; // hangs until the driver's stall timer aborts it
          finish();
          if (outcome.type === "response") resolve(outcome.response);
          else reject(new TransportError("network", "connection reset"));
        }, 20);
      });
    },
    close() {
      stats.closed++;
    },
  };
  const runtime: UploadRuntime = {
    name: "test",
    createTransport(context) {
      contexts.push(context);
      return transport;
    },
    clock,
    wallClock: () => Date.UTC(2030, 0, 1),
    checksums: { crc32c: nodeChecksums.crc32c!, md5: nodeChecksums.md5! },
    sha256: (bytes) => Promise.resolve(new Uint8Array(createHash("sha256").update(bytes).digest())),
    random: seededRandom(11),
    env: () => undefined,
    ...overrides,
  };
  return { runtime, clock, model, sent, contexts, stats };
}

/** Writes `source` in pieces, respecting backpressure, and tracks the most memory held. */
async function feed(upload: Upload, clock: FakeClock, source: Uint8Array, piece = MiB): Promise<{ object: unknown; maxBuffered: number }> {
  let maxBuffered = 0;
  const work = (async () => {
    for (let at = 0; at < source.length; at += piece) {
      await upload.write(source.subarray(at, Math.min(source.length, at + piece)));
      maxBuffered = Math.max(maxBuffered, upload.bytesBuffered);
    }
    return upload.end();
  })();
  const object = await runUntilSettled(clock, work, { maxTimers: 100_000 });
  return { object, maxBuffered };
}

function record<K extends keyof UploadEventMap>(upload: Upload, type: K): UploadEventMap[K][] {
  const seen: UploadEventMap[K][] = [];
  upload.on(type, (payload) => seen.push(payload));
  return seen;
}

describe("createUpload with parallelism (XML multipart)", () => {
  it("uploads with several parts in flight: the object is the source, CRC32C verified, events typed, store cleared, memory bounded", async () => {
    const { runtime, clock, model, stats, sent } = xmlRuntime();
    const store = new MemoryCheckpointStore();
    const source = sourceOf(6 * PART + 77);
    const upload = createUpload({ ...target, contentType: "application/x-test", parallelism: 3, partSize: PART, checkpointStore: store, metadata: { metadata: { k: "v" } } }, runtime);
    const sessions = record(upload, "session");
    const saved = record(upload, "checkpoint-saved");
    const progress = record(upload, "progress");
    const { object, maxBuffered } = await feed(upload, clock, source);
    expect(object).toMatchObject({ size: String(source.length), crc32c: crcB64(source) });
    expect(Buffer.from(model.object("bkt", "obj")!.content).equals(Buffer.from(source))).toBe(true);
    expect(stats.maxInFlight).toBe(3);
    expect(maxBuffered).toBeLessThanOrEqual((3 + 1) * PART + MiB);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.checkpoint.kind).toBe("xml-multipart");
    expect(saved.length).toBeGreaterThanOrEqual(2);
    expect(saved.every((s) => isMultipartCheckpoint(s.checkpoint))).toBe(true);
    expect(progress.at(-1)).toEqual({ bytesSent: source.length, bytesPersisted: source.length, totalBytes: source.length });
    expect(await store.load()).toBeUndefined();
    expect(upload.checkpoint()).toBeUndefined();
    expect(stats.closed).toBe(1);
    expect(model.activeUploads).toHaveLength(0);
    expect(model.violations).toEqual([]);
    const initiate = sent.find((s) => s.url.includes("?uploads"))!;
    expect(initiate.headers).toMatchObject({ "content-type": "application/x-test", "x-goog-meta-k": "v" });
    expect(clock.pendingTimers).toBe(0);
  });

  it("partSize alone picks the multipart engine (default parallelism 4)", async () => {
    const { runtime, clock, stats, sent } = xmlRuntime();
    const upload = createUpload({ ...target, partSize: PART }, runtime);
    await feed(upload, clock, sourceOf(8 * PART));
    expect(stats.maxInFlight).toBe(4);
    expect(sent.some((s) => s.url.includes("upload_id="))).toBe(false);
  });

  it("retries a failing part alone, with a typed retry event naming the part", async () => {
    let failed = 0;
    const { runtime, clock, model } = xmlRuntime(({ type, request }) => {
      if (type === "part" && request.url.includes("partNumber=2&") && failed < 2) {
        failed++;
        return { kind: "status", status: 503 };
      }
      return undefined;
    });
    const upload = createUpload({ ...target, parallelism: 2, partSize: PART, retry: { initialDelayMs: 10, jitter: "none" } }, runtime);
    const retries = record(upload, "retry");
    const source = sourceOf(3 * PART + 5);
    await feed(upload, clock, source);
    expect(retries.map((r) => r.partNumber)).toEqual([2, 2]);
    expect(retries[0]!.error.status).toBe(503);
    const puts = model.log.filter((l) => l.type === "part");
    expect(puts.filter((l) => l.partNumber === 1)).toHaveLength(1);
    expect(puts.filter((l) => l.partNumber === 2)).toHaveLength(3);
    expect(Buffer.from(model.object("bkt", "obj")!.content).equals(Buffer.from(source))).toBe(true);
  });

  it("credentials go only to the endpoint's origin over https; none over plain http to loopback", async () => {
    const https = xmlRuntime();
    await feed(createUpload({ ...target, partSize: PART }, https.runtime), https.clock, sourceOf(PART + 1));
    expect(https.sent.length).toBeGreaterThan(2);
    expect(https.sent.every((s) => s.credentials && s.url.startsWith("https://storage.googleapis.com/"))).toBe(true);
    const http = xmlRuntime();
    await feed(createUpload({ ...target, partSize: PART, apiEndpoint: "http://127.0.0.1:9" }, http.runtime), http.clock, sourceOf(PART + 1));
    expect(http.sent.every((s) => !s.credentials && s.url.startsWith("http://127.0.0.1:9/"))).toBe(true);
  });

  it("sends the customer-supplied key's headers, with its real SHA-256, on every request", async () => {
    const { runtime, clock, sent } = xmlRuntime();
    const key = new Uint8Array(32).fill(7);
    await feed(createUpload({ ...target, partSize: PART, encryptionKey: key }, runtime), clock, sourceOf(PART + 3));
    const sha = createHash("sha256").update(key).digest("base64");
    const xml = sent.filter((s) => !s.url.includes("/storage/v1/"));
    expect(xml.length).toBeGreaterThanOrEqual(4);
    for (const s of xml) expect(s.headers).toMatchObject({ "x-goog-encryption-algorithm": "AES256", "x-goog-encryption-key-sha256": sha });
  });

  it("gzip: the parts carry the compressed stream and the object says contentEncoding gzip", async () => {
    const { runtime, clock, model, sent } = xmlRuntime();
    const runtimeWithGzip: UploadRuntime = {
      ...runtime,
      gzip: () => {
        const chunks: Uint8Array[] = [];
        return {
          push: (bytes) => {
            chunks.push(Uint8Array.from(bytes));
            return Promise.resolve([]);
          },
          finish: async () => {
            const { gzipSync } = await import("node:zlib");
            return [new Uint8Array(gzipSync(Buffer.concat(chunks)))];
          },
        };
      },
    };
    const source = new TextEncoder().encode("a compressible line\n".repeat(10_000));
    await feed(createUpload({ ...target, partSize: PART, gzip: true }, runtimeWithGzip), clock, source, 4096);
    expect(Buffer.from(gunzipSync(model.object("bkt", "obj")!.content)).equals(Buffer.from(source))).toBe(true);
    expect(sent.find((s) => s.url.includes("?uploads"))!.headers["content-encoding"]).toBe("gzip");
  });

  describe("abort policy", () => {
    async function midUpload(options: Partial<UploadOptions>, faults?: XmlFaultSchedule) {
      const setup = xmlRuntime(faults);
      const store = new MemoryCheckpointStore();
      const upload = createUpload({ ...target, parallelism: 2, partSize: PART, checkpointStore: store, ...options }, setup.runtime);
      const source = sourceOf(5 * PART + 9);
      const writing = (async () => {
        for (let at = 0; at < 3 * PART; at += MiB) await upload.write(source.subarray(at, at + MiB));
      })().catch(() => undefined); // a fault test ends the upload while writing: done says how
      await runUntilSettled(setup.clock, writing, { maxTimers: 100_000 });
      // Let the first parts come back.
      for (let i = 0; i < 10; i++) {
        setup.clock.advance(20);
        await flushMicrotasks();
      }
      return { ...setup, store, upload, source };
    }

    it("cancel (default): the multipart upload is aborted, the store cleared, done rejects cancelled", async () => {
      const { upload, store, clock, model } = await midUpload({});
      expect(await store.load()).toMatchObject({ kind: "xml-multipart" });
      const outcome = await runUntilSettled(clock, upload.abort(new Error("user stop")));
      expect(outcome).toEqual({ outcome: "cancelled" });
      await expect(upload.done).rejects.toMatchObject({ code: "cancelled" });
      expect(model.activeUploads).toHaveLength(0);
      expect(model.log.some((l) => l.type === "abort")).toBe(true);
      expect(await store.load()).toBeUndefined();
    });

    it("keep: nothing aborted, the multipart checkpoint saved and returned; a new upload resumes it to the same bytes", async () => {
      const first = await midUpload({ onAbort: "keep" });
      const outcome = await runUntilSettled(first.clock, first.upload.abort("shutting down"));
      expect(outcome.outcome).toBe("kept");
      const checkpoint = (outcome as { checkpoint: UploadCheckpoint }).checkpoint as MultipartCheckpoint;
      expect(checkpoint.kind).toBe("xml-multipart");
      expect(checkpoint.parts.length).toBeGreaterThanOrEqual(1);
      expect(await first.store.load()).toEqual(JSON.parse(JSON.stringify(checkpoint)));
      await expect(first.upload.done).rejects.toMatchObject({ code: "aborted" });
      expect(first.model.activeUploads).toHaveLength(1);
      expect(first.model.log.some((l) => l.type === "abort")).toBe(false);

      // The second process: same model (the server), a fresh runtime, the stored checkpoint.
      const stored = await first.store.load();
      const second = xmlRuntime();
      const runtime: UploadRuntime = { ...second.runtime, createTransport: (context) => first.runtime.createTransport(context) };
      const resumed = createUpload({ ...target, parallelism: 2, partSize: PART, checkpoint: stored }, runtime);
      expect(resumed.resumeOffset).toBe(checkpoint.parts.length * PART);
      const resumedEvents = record(resumed, "resumed");
      const partsBefore = first.model.log.filter((l) => l.type === "part").length;
      const { object } = await feed(resumed, first.clock, first.source.subarray(resumed.resumeOffset));
      expect(object).toMatchObject({ size: String(first.source.length), crc32c: crcB64(first.source) });
      expect(Buffer.from(first.model.object("bkt", "obj")!.content).equals(Buffer.from(first.source))).toBe(true);
      expect(resumedEvents).toEqual([{ resumeOffset: resumed.resumeOffset, serverOffset: resumed.resumeOffset, md5Skipped: false, partsKept: checkpoint.parts.length, partsLost: 0 }]);
      // Only the parts after the checkpoint's prefix were sent again.
      const resent = first.model.log.filter((l) => l.type === "part").slice(partsBefore).map((l) => l.partNumber ?? 0);
      expect(Math.min(...resent)).toBe(checkpoint.parts.length + 1);
      expect(first.model.violations).toEqual([]);
    });

    it("a failure with onAbort cancel aborts the multipart upload and clears the store", async () => {
      const { upload, store, clock, model } = await midUpload({}, ({ type }) => (type === "part" ? { kind: "status", status: 403 } : undefined));
      await expect(runUntilSettled(clock, upload.done)).rejects.toMatchObject({ status: 403 });
      expect(model.activeUploads).toHaveLength(0);
      expect(await store.load()).toBeUndefined();
    });

    it("a failure with onAbort keep keeps the multipart upload and its checkpoint", async () => {
      let parts = 0;
      const { upload, store, clock, model } = await midUpload({ onAbort: "keep" }, ({ type }) => (type === "part" && ++parts > 2 ? { kind: "status", status: 403 } : undefined));
      await expect(runUntilSettled(clock, upload.done)).rejects.toMatchObject({ status: 403 });
      expect(model.activeUploads).toHaveLength(1);
      expect(await store.load()).toMatchObject({ kind: "xml-multipart" });
    });
  });

  describe("refusals, each naming the option, before a transport exists", () => {
    const cases: [string, Record<string, unknown>, string, RegExp?][] = [
      ["sessionUri + parallelism", { sessionUri: "https://storage.googleapis.com/upload/x?upload_id=1", parallelism: 4 }, "sessionUri", /drop parallelism/],
      ["signedUrl + parallelism", { signedUrl: "https://storage.googleapis.com/b/o?X-Goog-Signature=1", parallelism: 4 }, "signedUrl", /drop parallelism/],
      ["parallelism 0", { ...target, parallelism: 0 }, "parallelism", /1 to 32/],
      ["parallelism 33", { ...target, parallelism: 33 }, "parallelism", /1 to 32, came 33/],
      ["parallelism 2.5", { ...target, parallelism: 2.5 }, "parallelism", /came 2\.5/],
      ['parallelism "4"', { ...target, parallelism: "4" }, "parallelism", /came "4"/],
      ["partSize below 5 MiB", { ...target, partSize: 5 * MiB - 1 }, "partSize", /5 MiB/],
      ["partSize above 5 GiB", { ...target, partSize: 5 * 1024 * MiB + 1 }, "partSize"],
      ['checksum "md5" with parallelism', { ...target, parallelism: 2, checksum: "md5" }, "checksum", /no MD5/],
      ["chunkSize with parallelism", { ...target, parallelism: 2, chunkSize: 8 * MiB }, "chunkSize", /partSize/],
      ["origin with parallelism", { ...target, parallelism: 2, origin: "https://app.example.com" }, "origin"],
      ["ifGenerationNotMatch with parallelism", { ...target, parallelism: 2, ifGenerationNotMatch: 3 }, "ifGenerationNotMatch"],
      ["a hold with parallelism", { ...target, parallelism: 2, metadata: { temporaryHold: true } }, "metadata.temporaryHold"],
      ["a known md5Hash with partSize", { ...target, partSize: PART, metadata: { md5Hash: "AAAAAAAAAAAAAAAAAAAAAA==" } }, "metadata.md5Hash"],
      ["a header-unsafe custom metadata key", { ...target, parallelism: 2, metadata: { metadata: { "a b": "v" } } }, "metadata.metadata.a b"],
      ["a bad bucket name (the multipart engine's check, flat field)", { bucket: "Bad_Bucket!", name: "o", parallelism: 2 }, "bucket"],
    ];

    it.each(cases)("%s", (_what, options, field, message) => {
      const { runtime, contexts, sent } = xmlRuntime();
      let error: unknown;
      try {
        createUpload(options, runtime);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ValidationError);
      expect(error).toMatchObject({ code: "invalid-argument", field });
      if (message !== undefined) expect((error as Error).message).toMatch(message);
      expect(contexts).toEqual([]);
      expect(sent).toEqual([]);
    });
  });

  describe("checkpoint kinds", () => {
    const multipartCheckpoint = sealMultipartCheckpoint({ version: 1, kind: "xml-multipart", uploadId: "up-1", partSize: PART, parts: [], fingerprint: "x" });

    it("a multipart checkpoint without parallelism/partSize is refused, naming checkpoint: no silent switch", () => {
      const { runtime, contexts } = xmlRuntime();
      expect(() => createUpload({ ...target, checkpoint: multipartCheckpoint }, runtime)).toThrow(
        expect.objectContaining({ code: "invalid-argument", field: "checkpoint", message: expect.stringMatching(/give parallelism/) as string }) as Error,
      );
      expect(contexts).toEqual([]);
    });

    it("a resumable-session checkpoint with parallelism is refused, naming checkpoint", () => {
      const { runtime, contexts } = xmlRuntime();
      const resumable = { version: 2, sessionUri: "https://storage.googleapis.com/upload/x?upload_id=1", resumeOffset: 0, chunkSize: 8 * MiB, fingerprint: "f", integrity: "i" };
      expect(() => createUpload({ ...target, parallelism: 2, checkpoint: resumable }, runtime)).toThrow(
        expect.objectContaining({ code: "invalid-argument", field: "checkpoint", message: expect.stringMatching(/drop parallelism/) as string }) as Error,
      );
      expect(contexts).toEqual([]);
    });

    it("a tampered multipart checkpoint is invalid-checkpoint, nothing sent", () => {
      const { runtime, contexts } = xmlRuntime();
      const tampered = { ...multipartCheckpoint, uploadId: "up-2" };
      expect(() => createUpload({ ...target, parallelism: 2, checkpoint: tampered }, runtime)).toThrow(expect.objectContaining({ code: "invalid-checkpoint" }) as Error);
      expect(contexts).toEqual([]);
    });

    it("a multipart checkpoint of another upload (fingerprint) is invalid-checkpoint", () => {
      const { runtime, contexts } = xmlRuntime();
      expect(() => createUpload({ ...target, parallelism: 2, checkpoint: multipartCheckpoint }, runtime)).toThrow(
        expect.objectContaining({ code: "invalid-checkpoint", message: expect.stringMatching(/fingerprint/) as string }) as Error,
      );
      expect(contexts).toEqual([]);
    });
  });
});
