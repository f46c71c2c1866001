import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { startEmulator, type Emulator } from "@resumable-gcs/emulator";
import { MemoryCheckpointStore, UploadError, type Checkpoint } from "@resumable-gcs/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, generated, crc32cBase64, generatedCrc32cBase64 } from "./test-support/data.js";
import { createUploadStream, type NodeUploadOptions } from "./upload-stream.js";
import { uploadFrom } from "./upload-from.js";

const KIB = 1024;
const MIB = 1024 * KIB;
const CHUNK = 256 * KIB;
const BUCKET = "node-adapter";
const fastRetry = { initialDelayMs: 5, maxDelayMs: 40 };

let emulator: Emulator;
let counter = 0;
beforeAll(async () => {
  emulator = await startEmulator({ buckets: [BUCKET] });
});
afterAll(async () => {
  await emulator.stop();
});

function objectName(label: string): string {
  counter += 1;
  return `tests/${label}-${counter}`;
}

/**
 * These cases are about the resumable session (sizes at chunk edges, every fault on start, chunk and
 * finalize): `singleRequest: "never"`, or small sources would go as one request. That path has its
 * own cases in single-request.test.ts.
 */
function options(name: string, extra: Partial<NodeUploadOptions> = {}): NodeUploadOptions {
  return { apiEndpoint: emulator.url, bucket: BUCKET, name, chunkSize: CHUNK, retry: fastRetry, idleTimeoutMs: 5_000, singleRequest: "never", ...extra };
}

/** Splits `data` into writes of varying sizes, so chunk boundaries never line up with writes. */
function* writes(data: Buffer): Generator<Buffer> {
  const sizes = [1, 1000, 65_536, 300_000, 7, 262_144];
  for (let at = 0, i = 0; at < data.length; i += 1) {
    const size = sizes[i % sizes.length]!;
    yield data.subarray(at, at + size);
    at += size;
  }
}

function stored(name: string) {
  const object = emulator.getObject(BUCKET, name);
  if (object === undefined) throw new Error(`no object ${name}`);
  return object;
}

describe("createUploadStream: sizes", () => {
  const sizes = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 4 * CHUNK + 12_345];
  for (const size of sizes) {
    for (const transport of ["gaxios", "http"] as const) {
      it(`uploads ${size} bytes byte-identical with CRC32C verified (${transport})`, async () => {
        const data = generated(size, size + 7);
        const name = objectName(`size-${size}`);
        const object = await uploadFrom(Readable.from(writes(data)), options(name, { transport, checksum: "both" }));
        expect(object.size).toBe(String(size));
        expect(object.crc32c).toBe(crc32cBase64(data));
        const saved = stored(name);
        expect(saved.size).toBe(size);
        expect(Buffer.from(saved.data!).equals(data)).toBe(true);
      });
    }
  }

  it("uploads 100 MiB of generated data in 8 MiB chunks, byte-identical", async () => {
    const size = 100 * MIB;
    const name = objectName("100mib");
    const object = await uploadFrom(Readable.from(generate(size, 42)), options(name, { chunkSize: 8 * MIB }));
    expect(object.size).toBe(String(size));
    expect(object.crc32c).toBe(generatedCrc32cBase64(size, 42));
    const saved = stored(name);
    expect(Buffer.from(saved.data!).equals(generated(size, 42))).toBe(true);
  }, 120_000);

  it("finishes only after the object is final, with the object on the stream", async () => {
    const name = objectName("finish");
    const stream = createUploadStream(options(name));
    let existedAtFinish = false;
    stream.on("finish", () => {
      existedAtFinish = emulator.getObject(BUCKET, name) !== undefined && stream.object !== undefined;
    });
    await pipeline(Readable.from([generated(CHUNK + 5)]), stream);
    expect(existedAtFinish).toBe(true);
    await expect(stream.done).resolves.toMatchObject({ name, size: String(CHUNK + 5) });
  });
});

describe("createUploadStream: other ways to start", () => {
  it("continues a session URI minted elsewhere (e.g. by a server for this client)", async () => {
    const name = objectName("minted");
    const start = await fetch(`${emulator.url}/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=${encodeURIComponent(name)}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name }),
    });
    const sessionUri = start.headers.get("location")!;
    const data = generated(2 * CHUNK + 3, 11);
    const object = await uploadFrom(Readable.from(writes(data)), { apiEndpoint: emulator.url, sessionUri, chunkSize: CHUNK });
    expect(object.crc32c).toBe(crc32cBase64(data));
    expect(Buffer.from(stored(name).data!).equals(data)).toBe(true);
  });

  it("starts through a signed URL (x-goog-resumable: start) with no credentials", async () => {
    const name = objectName("signed");
    const signedUrl = `${emulator.url}/${BUCKET}/${encodeURIComponent(name)}?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=abc`;
    const data = generated(CHUNK + 1, 12);
    const object = await uploadFrom(Readable.from([data]), { apiEndpoint: emulator.url, signedUrl, chunkSize: CHUNK });
    expect(object.size).toBe(String(data.length));
    expect(Buffer.from(stored(name).data!).equals(data)).toBe(true);
  });

  it("sends metadata and content type, honours ifGenerationMatch: 0, and surfaces 412 as precondition-failed", async () => {
    const name = objectName("meta");
    const first = await uploadFrom(Readable.from([Buffer.from("hello")]), {
      ...options(name),
      contentType: "text/plain",
      metadata: { cacheControl: "no-store", metadata: { build: "123" } },
      ifGenerationMatch: 0,
    });
    expect(first.size).toBe("5");
    expect(stored(name).contentType).toBe("text/plain");
    expect(stored(name).metadata).toEqual({ build: "123" });
    const again = uploadFrom(Readable.from([Buffer.from("again")]), { ...options(name), ifGenerationMatch: 0 });
    await expect(again).rejects.toMatchObject({ code: "precondition-failed", status: 412 });
    expect(Buffer.from(stored(name).data!).toString()).toBe("hello");
  });

  it("sends a customer-supplied encryption key on every request", async () => {
    const name = objectName("csek");
    const id = emulator.registerFaults({ "storage.objects.insert": ["return-503"] });
    const data = generated(CHUNK + 10, 13);
    const object = await uploadFrom(Readable.from([data]), {
      ...options(name, { extraHeaders: { "x-retry-test-id": id } }),
      encryptionKey: Buffer.alloc(32, 7),
    });
    expect(object.size).toBe(String(data.length));
  });

  it("refuses an encryption key that is not 32 bytes", () => {
    expect(() => createUploadStream({ ...options("x"), encryptionKey: Buffer.alloc(16) })).toThrow(
      expect.objectContaining({ code: "invalid-argument" }) as Error,
    );
  });
});

describe("createUploadStream: every fault the emulator injects", () => {
  const faults = [
    "return-408",
    "return-429",
    "return-500",
    "return-502",
    "return-503",
    "return-504",
    "return-reset-connection",
    "return-503-after-256K",
    "return-reset-connection-after-256K",
    "stall-for-2s-after-128K",
    "return-broken-stream-final-chunk-after-10B",
    "return-broken-stream",
    "return-short-ack-256K",
  ];
  for (const fault of faults) {
    for (const transport of ["gaxios", "http"] as const) {
      it(`survives ${fault} (${transport}) with nothing lost or duplicated`, async () => {
        // Faults on the second and last requests too, so start, chunks and the finalize all meet one.
        // Faults on several requests, so start, chunks and the finalize all meet one; the final-chunk
        // fault waits for the finalizing request, so one of it is enough.
        const count = fault.includes("final-chunk") ? 1 : 4;
        const id = emulator.registerFaults({ "storage.objects.insert": Array.from({ length: count }, () => fault) });
        const size = 4 * CHUNK + 777;
        const data = generated(size, 99);
        const name = objectName(`fault-${fault}`);
        const retries: unknown[] = [];
        const object = await uploadFrom(
          Readable.from(writes(data)),
          options(name, { transport, chunkSize: 2 * CHUNK, extraHeaders: { "x-retry-test-id": id }, idleTimeoutMs: 500 }),
          (stream) => stream.on("retry", (r) => retries.push(r)),
        );
        expect(object.crc32c).toBe(crc32cBase64(data));
        expect(Buffer.from(stored(name).data!).equals(data)).toBe(true);
        expect(emulator.getRetryTest(id)?.completed ?? true).toBe(true);
        if (fault !== "return-short-ack-256K") expect(retries.length).toBeGreaterThan(0);
      }, 30_000);
    }
  }
});

describe("createUploadStream: progress, events, backpressure", () => {
  it("emits one session and monotonic progress, and holds memory to about two chunks with a slow server", async () => {
    const slow = await startEmulator({ buckets: [BUCKET], storage: "discard", latencyMs: 20 });
    try {
      const chunkSize = 1 * MIB;
      const size = 64 * MIB;
      const write = 64 * KIB;
      const stream = createUploadStream({ apiEndpoint: slow.url, bucket: BUCKET, name: "bp", chunkSize, retry: fastRetry });
      const sessions: unknown[] = [];
      let lastPersisted = 0;
      let monotonic = true;
      let maxHeld = 0;
      let maxArrayBuffers = 0;
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc === undefined) throw new Error("run with --expose-gc (see vitest.config.ts)");
      gc();
      const baseline = process.memoryUsage().arrayBuffers;
      let written = 0;
      stream.on("session", (cp) => sessions.push(cp));
      stream.on("progress", (p) => {
        if (p.bytesPersisted < lastPersisted) monotonic = false;
        lastPersisted = p.bytesPersisted;
      });
      const source = Readable.from(
        (function* () {
          for (const part of generate(size, 5, write)) {
            // What core retains plus what waits in the Writable's own buffer.
            maxHeld = Math.max(maxHeld, stream.bytesBuffered + stream.writableLength);
            written += part.byteLength;
            if (written % (4 * MIB) === 0) {
              gc();
              maxArrayBuffers = Math.max(maxArrayBuffers, process.memoryUsage().arrayBuffers - baseline);
            }
            yield part;
          }
        })(),
      );
      await pipeline(source, stream);
      const object = await stream.done;
      expect(object.size).toBe(String(size));
      expect(sessions).toHaveLength(1);
      expect(monotonic).toBe(true);
      expect(lastPersisted).toBe(size);
      // One chunk in flight, one filling, and the Writable's highWaterMark (one chunk) plus a write.
      expect(maxHeld).toBeLessThanOrEqual(3 * chunkSize + write);
      // The process as a whole (client and the in-process server), after GC: a 64 MiB upload retains
      // a few chunks' worth of buffers, nowhere near the object's size.
      expect(maxArrayBuffers).toBeLessThan(12 * chunkSize);
    } finally {
      await slow.stop();
    }
  }, 60_000);
});

describe("createUploadStream: abort", () => {
  // A server that answers every request 150 ms late: aborts land while a chunk is in flight.
  let slow: Emulator;
  beforeAll(async () => {
    slow = await startEmulator({ buckets: [BUCKET], latencyMs: 150 });
  });
  afterAll(async () => {
    await slow.stop();
  });
  const slowOptions = (name: string, extra: Partial<NodeUploadOptions> = {}): NodeUploadOptions => ({
    ...options(name, extra),
    apiEndpoint: slow.url,
  });

  it("cancels the session on abort by default (DELETE): the pipeline rejects with code aborted, done with cancelled", async () => {
    const controller = new AbortController();
    const name = objectName("abort-cancel");
    const stream = createUploadStream(slowOptions(name, { signal: controller.signal }));
    let sessionUri: string | undefined;
    stream.on("session", ({ checkpoint }) => {
      sessionUri = (checkpoint as Checkpoint).sessionUri;
      // Abort while the first chunk is on the wire.
      setTimeout(() => controller.abort(new Error("user gave up")), 50);
    });
    const feeding = pipeline(Readable.from(generate(8 * CHUNK, 3)), stream);
    const error = (await feeding.then(() => undefined, (e: unknown) => e)) as UploadError;
    expect(error).toBeInstanceOf(UploadError);
    expect(error.code).toBe("aborted");
    await expect(stream.done).rejects.toMatchObject({ code: "cancelled" });
    expect(sessionUri).toBeDefined();
    expect(slow.getUploadSession(sessionUri!)).toBeUndefined();
    expect(slow.getObject(BUCKET, name)).toBeUndefined();
    await expect(stream.done).rejects.toBeInstanceOf(UploadError);
  }, 20_000);

  it("leaves the session resumable with onAbort: keep, and a second stream finishes it from the checkpoint", async () => {
    const store = new MemoryCheckpointStore();
    const name = objectName("abort-keep");
    const size = 6 * CHUNK + 99;
    const data = generated(size, 8);
    const first = createUploadStream(slowOptions(name, { onAbort: "keep", checkpointStore: store }));
    const feeding = pipeline(Readable.from(writes(data)), first);
    // Destroy once a chunk is persisted and the next one is in flight.
    await new Promise<void>((resolve) => first.on("progress", (p) => p.bytesPersisted > 0 && resolve()));
    await new Promise((r) => setTimeout(r, 50));
    first.destroy(new Error("process going down"));
    await expect(feeding).rejects.toThrow("process going down");
    const checkpoint = (await store.load()) as Checkpoint;
    expect(first.progress.bytesPersisted).toBeGreaterThan(0);
    expect(first.progress.bytesPersisted).toBeLessThan(size);
    expect(slow.getUploadSession(checkpoint.sessionUri)?.state).toBe("open");

    const second = createUploadStream(slowOptions(name, { checkpoint, checkpointStore: store }));
    expect(second.resumeOffset).toBeGreaterThan(0);
    expect(second.resumeOffset).toBeLessThanOrEqual(first.progress.bytesPersisted);
    await pipeline(Readable.from(writes(data.subarray(second.resumeOffset))), second);
    const object = await second.done;
    expect(object.crc32c).toBe(crc32cBase64(data));
    expect(Buffer.from(slow.getObject(BUCKET, name)!.data!).equals(data)).toBe(true);
    expect(await store.load()).toBeUndefined();
  }, 20_000);
});

describe("createUploadStream: bad input gets a typed error and sends nothing", () => {
  const sessionsBefore = () => emulator.listObjects(BUCKET).length;

  it.each([
    ["bucket name with upper case", { bucket: "Bad_Bucket" }],
    ["bucket name too short", { bucket: "ab" }],
    ["bucket name starting with goog", { bucket: "google-things" }],
    ["empty object name", { name: "" }],
    ["object name with a newline", { name: "a\nb" }],
    ["object name '..'", { name: ".." }],
  ])("refuses a %s before any request", (_label, override) => {
    const before = sessionsBefore();
    let caught: unknown;
    try {
      createUploadStream({ ...options("x"), ...override });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UploadError);
    expect((caught as UploadError).code).toBe("invalid-argument");
    expect(sessionsBefore()).toBe(before);
  });

  it("refuses a chunk size that is not a multiple of 256 KiB", () => {
    expect(() => createUploadStream(options("x", { chunkSize: 1_000_000 }))).toThrow(
      expect.objectContaining({ code: "invalid-argument" }) as Error,
    );
  });

  it.each([
    ["a number", 42],
    ["a plain object", { bytes: [1, 2] }],
  ])("fails the stream on a write of %s, and nothing is committed", async (_label, chunk) => {
    const name = objectName("non-bytes");
    const stream = createUploadStream(options(name));
    const failed = new Promise<unknown>((resolve) => stream.on("error", resolve));
    stream.write(Buffer.from("fine so far"));
    stream.write(chunk);
    const error = (await failed) as UploadError;
    expect(error).toBeInstanceOf(UploadError);
    expect(error.code).toBe("invalid-argument");
    await stream.done.catch(() => undefined);
    expect(emulator.getObject(BUCKET, name)).toBeUndefined();
  });

  it("fails a write after end with a usage error", async () => {
    const name = objectName("after-end");
    const stream = createUploadStream(options(name));
    stream.end(Buffer.from("all of it"));
    const errors: unknown[] = [];
    stream.on("error", (e) => errors.push(e));
    stream.write(Buffer.from("more"));
    await new Promise((r) => setTimeout(r, 200));
    expect(errors[0]).toBeInstanceOf(UploadError);
    expect((errors[0] as UploadError).code).toBe("usage");
  });

  it.each([
    ["not an object", "garbage"],
    ["a wrong version", { version: 99, sessionUri: "http://127.0.0.1/x?upload_id=abc", persisted: 0, chunkSize: CHUNK, fingerprint: "f" }],
    ["a negative offset", { version: 1, sessionUri: "http://127.0.0.1/x?upload_id=abc", persisted: -1, chunkSize: CHUNK, fingerprint: "f" }],
  ])("refuses a corrupt checkpoint (%s) with invalid-checkpoint", (_label, checkpoint) => {
    expect(() => createUploadStream(options("x", { checkpoint }))).toThrow(expect.objectContaining({ code: "invalid-checkpoint" }) as Error);
  });

  it("refuses a checkpoint made for another object", async () => {
    const store = new MemoryCheckpointStore();
    const name = objectName("fingerprint");
    const stream = createUploadStream(options(name, { onAbort: "keep", checkpointStore: store }));
    await new Promise((resolve) => {
      stream.on("session", resolve);
      stream.write(generated(CHUNK));
    });
    stream.destroy();
    await stream.done.catch(() => undefined);
    const checkpoint = await store.load();
    expect(checkpoint).toBeDefined();
    expect(() => createUploadStream(options(`${name}-other`, { checkpoint }))).toThrow(
      expect.objectContaining({ code: "invalid-checkpoint" }) as Error,
    );
  });
});
