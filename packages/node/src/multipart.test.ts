/**
 * `parallelism` / `partSize` through the Node adapter, end to end against the emulator's XML
 * multipart API: big streams byte-compared, per-part faults, the abort policy, the file checkpoint
 * store, and the refusals (nothing sent: a transport spy).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { faultHeaders, startEmulator, type Emulator } from "@resumable-gcs/emulator";
import { MemoryCheckpointStore, UploadError, ValidationError, parseUploadCheckpoint, type MultipartCheckpoint, type Transport, type UploadRetry } from "@resumable-gcs/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileCheckpointStore } from "./checkpoint-store.js";
import { generate, generated, crc32cBase64, generatedCrc32cBase64 } from "./test-support/data.js";
import { createUploadStream, type NodeUploadOptions } from "./upload-stream.js";
import { uploadFrom } from "./upload-from.js";

const MIB = 1024 * 1024;
const PART = 5 * MIB;
const BUCKET = "node-multipart";
const fastRetry = { initialDelayMs: 5, maxDelayMs: 40 };

let emulator: Emulator;
let slow: Emulator;
let dir: string;
/** Successful part PUTs seen by the emulator, as `name#partNumber`. */
const partPuts: string[] = [];
let counter = 0;

beforeAll(async () => {
  const logger = (line: string): void => {
    const match = /^PUT \/[^/]+\/(\S+)\?partNumber=(\d+)&\S* -> 200/.exec(line);
    if (match !== null) partPuts.push(`${decodeURIComponent(match[1]!)}#${match[2]}`);
  };
  emulator = await startEmulator({ buckets: [BUCKET], logger });
  // Slow answers, so an abort surely lands while parts are in flight.
  slow = await startEmulator({ buckets: [BUCKET], latencyMs: 80 });
  dir = await mkdtemp(join(tmpdir(), "rgcs-mp-"));
});
afterAll(async () => {
  await emulator.stop();
  await slow.stop();
  await rm(dir, { recursive: true, force: true });
});

function objectName(label: string): string {
  counter += 1;
  return `mp/${label}-${counter}`;
}

function options(name: string, extra: Partial<NodeUploadOptions> = {}, on: Emulator = emulator): NodeUploadOptions {
  return { apiEndpoint: on.url, bucket: BUCKET, name, parallelism: 4, partSize: PART, retry: fastRetry, idleTimeoutMs: 10_000, ...extra };
}

function putsOf(name: string): number[] {
  return partPuts.filter((p) => p.startsWith(`${name}#`)).map((p) => Number(p.slice(name.length + 1)));
}

describe("parallelism through createUploadStream (XML multipart against the emulator)", () => {
  for (const transport of ["gaxios", "http"] as const) {
    it(`streams 64 MiB + 123 bytes with parallelism 4, byte-identical, CRC32C verified, memory within (parallelism + 1) parts (${transport})`, async () => {
      const size = 64 * MIB + 123;
      const name = objectName(`big-${transport}`);
      const stream = createUploadStream(options(name, { transport, partSize: 8 * MIB }));
      let maxBuffered = 0;
      stream.on("progress", () => (maxBuffered = Math.max(maxBuffered, stream.bytesBuffered)));
      const sessions: unknown[] = [];
      stream.on("session", ({ checkpoint }) => sessions.push(checkpoint.kind));
      await pipeline(Readable.from(generate(size, 41)), stream);
      const object = await stream.done;
      expect(object.size).toBe(String(size));
      expect(object.crc32c).toBe(generatedCrc32cBase64(size, 41));
      const stored = emulator.getObject(BUCKET, name)!;
      expect(stored.size).toBe(size);
      expect(Buffer.from(stored.data!).equals(generated(size, 41))).toBe(true);
      // A multipart object has a CRC32C and no MD5, as on GCS.
      expect(stored.md5Hash).toBeUndefined();
      expect(sessions).toEqual(["xml-multipart"]);
      expect(maxBuffered).toBeGreaterThan(0);
      expect(maxBuffered).toBeLessThanOrEqual(5 * 8 * MIB + MIB);
      expect(putsOf(name).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(emulator.listMultipartUploads(BUCKET).filter((u) => u.name === name)).toEqual([]);
    }, 120_000);
  }

  it("retries each faulty part alone (503, reset mid-part, stall) and the object's CRC32C is verified", async () => {
    const size = 6 * PART + 1000;
    const name = objectName("faults");
    const headers = faultHeaders(emulator, ["mp-part#2:return-503", "mp-part#3:return-reset-connection-after-1024K", "mp-part#4:stall-for-3s-after-512K"]);
    const retries: UploadRetry[] = [];
    const stream = createUploadStream(options(name, { extraHeaders: headers, idleTimeoutMs: 1_000 }));
    stream.on("retry", (retry) => retries.push(retry));
    await pipeline(Readable.from(generate(size, 5)), stream);
    const object = await stream.done;
    expect(object.crc32c).toBe(crc32cBase64(generated(size, 5)));
    expect(Buffer.from(emulator.getObject(BUCKET, name)!.data!).equals(generated(size, 5))).toBe(true);
    const retriedParts = new Set(retries.map((r) => r.partNumber));
    for (const part of [2, 3, 4]) expect(retriedParts.has(part), `part ${part} retried`).toBe(true);
    expect(retries.find((r) => r.partNumber === 2)?.error.status).toBe(503);
    // Parts without a fault went once: a fault on one part never resends the others.
    const puts = putsOf(name);
    for (const part of [1, 5, 6, 7]) expect(puts.filter((p) => p === part), `part ${part}`).toHaveLength(1);
    expect(emulator.getRetryTest(headers["x-retry-test-id"])?.completed).toBe(true);
  }, 60_000);

  it("abort with onAbort cancel (default) aborts the multipart upload: nothing left in the emulator", async () => {
    const name = objectName("abort-cancel");
    const controller = new AbortController();
    const stream = createUploadStream(options(name, { signal: controller.signal, parallelism: 2 }, slow));
    stream.on("session", () => setTimeout(() => controller.abort(new Error("user gave up")), 100));
    const feeding = pipeline(Readable.from(generate(8 * PART, 3)), stream);
    await expect(feeding).rejects.toMatchObject({ code: "aborted" });
    await expect(stream.done).rejects.toMatchObject({ code: "cancelled" });
    expect(slow.listMultipartUploads(BUCKET).filter((u) => u.name === name)).toEqual([]);
    expect(slow.getObject(BUCKET, name)).toBeUndefined();
  }, 30_000);

  it("abort with onAbort keep leaves the multipart upload and a FileCheckpointStore checkpoint; a second stream finishes it", async () => {
    const name = objectName("abort-keep");
    const size = 5 * PART + 77;
    const data = generated(size, 9);
    const store = new FileCheckpointStore(join(dir, "keep.json"));
    const first = createUploadStream(options(name, { onAbort: "keep", checkpointStore: store, parallelism: 2 }, slow));
    const partOneSaved = new Promise<void>((resolve) => first.on("checkpoint-saved", ({ checkpoint }) => checkpoint.kind === "xml-multipart" && checkpoint.parts.some((p) => p.partNumber === 1) && resolve()));
    // The source holds back its end until part 1 is checkpointed, so the upload cannot be complete when the abort comes.
    const source = async function* (): AsyncGenerator<Buffer> {
      yield data.subarray(0, 2 * PART);
      await partOneSaved;
      first.destroy(new Error("process going down"));
      yield data.subarray(2 * PART);
    };
    const feeding = pipeline(Readable.from(source()), first);
    await expect(feeding).rejects.toThrow("process going down");
    await expect(first.done).rejects.toMatchObject({ code: "aborted" });
    // The file store round-trips the multipart checkpoint: it parses, sealed, as the same kind.
    const checkpoint = parseUploadCheckpoint(await store.load()) as MultipartCheckpoint;
    expect(checkpoint.kind).toBe("xml-multipart");
    const kept = slow.getMultipartUpload(checkpoint.uploadId);
    expect(kept?.parts.length).toBeGreaterThanOrEqual(checkpoint.parts.length);

    const second = createUploadStream(options(name, { checkpoint, checkpointStore: store, parallelism: 2 }, slow));
    expect(second.resumeOffset).toBeGreaterThanOrEqual(PART);
    expect(second.resumeOffset % PART).toBe(0);
    const resumed: number[] = [];
    second.on("resumed", ({ partsKept }) => resumed.push(partsKept ?? -1));
    await pipeline(Readable.from([data.subarray(second.resumeOffset)]), second);
    const object = await second.done;
    expect(object.crc32c).toBe(crc32cBase64(data));
    expect(Buffer.from(slow.getObject(BUCKET, name)!.data!).equals(data)).toBe(true);
    expect(resumed).toEqual([checkpoint.parts.length]);
    expect(await store.load()).toBeUndefined();
    expect(slow.listMultipartUploads(BUCKET).filter((u) => u.name === name)).toEqual([]);
  }, 30_000);

  it("a multipart checkpoint given without parallelism is refused naming checkpoint, before any request", async () => {
    const store = new MemoryCheckpointStore();
    const name = objectName("kind");
    const first = createUploadStream(options(name, { onAbort: "keep", checkpointStore: store }, slow));
    const feeding = pipeline(Readable.from(generate(4 * PART, 1)), first);
    await new Promise<void>((resolve) => first.on("session", () => resolve()));
    first.destroy(new Error("stop"));
    await feeding.catch(() => undefined);
    const checkpoint = await store.load();
    const { parallelism: _p, partSize: _s, ...plain } = options(name, {}, slow);
    expect(() => createUploadStream({ ...plain, checkpoint })).toThrow(expect.objectContaining({ code: "invalid-argument", field: "checkpoint" }) as Error);
  }, 30_000);
});

describe("parallelism refusals: a ValidationError naming the option, nothing sent", () => {
  /** A transport that records every send: none may happen. */
  function spy(): Transport & { sends: number } {
    const t = {
      specificationVersion: 2 as const,
      capabilities: { uploadProgress: false },
      sends: 0,
      send(): Promise<never> {
        t.sends += 1;
        return Promise.reject(new Error("nothing may be sent"));
      },
    };
    return t;
  }
  const base = { apiEndpoint: "http://127.0.0.1:9", bucket: BUCKET, name: "refused" };
  it.each([
    ["sessionUri + parallelism", { apiEndpoint: base.apiEndpoint, sessionUri: "http://127.0.0.1:9/upload/storage/v1/b/x/o?upload_id=1", parallelism: 4 }, "sessionUri"],
    ["signedUrl + parallelism", { signedUrl: "http://127.0.0.1:9/b/o?X-Goog-Signature=1", parallelism: 4 }, "signedUrl"],
    ["parallelism 0", { ...base, parallelism: 0 }, "parallelism"],
    ["parallelism 33", { ...base, parallelism: 33 }, "parallelism"],
    ["parallelism 2.5", { ...base, parallelism: 2.5 }, "parallelism"],
    ['parallelism "4"', { ...base, parallelism: "4" }, "parallelism"],
    ["partSize below 5 MiB", { ...base, partSize: 4 * MIB }, "partSize"],
    ['checksum "md5" with parallelism', { ...base, parallelism: 4, checksum: "md5" }, "checksum"],
  ])("%s", (_label, given, field) => {
    const transport = spy();
    let caught: unknown;
    try {
      createUploadStream({ ...(given as NodeUploadOptions), transport });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect(caught).toMatchObject({ code: "invalid-argument", field });
    expect(transport.sends).toBe(0);
  });

  it("uploadFrom refuses the same way, reading nothing from the source", async () => {
    const transport = spy();
    let pulled = 0;
    const source = Readable.from(
      (function* () {
        pulled += 1;
        yield Buffer.alloc(10);
      })(),
    );
    await expect(uploadFrom(source, { ...base, parallelism: 0, transport })).rejects.toBeInstanceOf(UploadError);
    expect(transport.sends).toBe(0);
    expect(pulled).toBe(0);
  });
});
