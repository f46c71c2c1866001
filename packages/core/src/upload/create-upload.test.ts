import { createHash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { sealCheckpoint, type Checkpoint } from "../checkpoint.js";
import { UploadError, ValidationError } from "../errors.js";
import { CHUNK, bytesOf, crcB64 } from "../harness.test-utils.js";
import { flushMicrotasks, runUntilSettled, type FakeClock } from "../test-support/fake-clock.js";
import { GcsModel } from "../test-support/gcs-model.js";
import { MemoryCheckpointStore, type CheckpointStore } from "./checkpoint-store.js";
import { AUTH_ADVICE, createUpload, type Upload } from "./create-upload.js";
import type { UploadEventMap } from "./events.js";
import type { UploadOptions } from "./options.js";
import type { UploadCheckpoint } from "./upload-checkpoint.js";
import { TransportError, type Transport } from "../transport.js";
import { testRuntime } from "./test-runtime.test-utils.js";

// These cases are about the resumable session (the in-memory model speaks only that): small sources
// would otherwise go as one request. The single-request path: create-upload.single-request.test.ts.
const target = { bucket: "bkt", name: "obj", singleRequest: "never" } as const;

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

describe("createUpload", () => {
  it("uploads through the runtime's transport, with typed events, totalBytes, saved checkpoints, a cleared store and a closed transport", async () => {
    const { runtime, clock, model, transport } = testRuntime();
    const store = new MemoryCheckpointStore();
    const source = bytesOf(3 * CHUNK + 5);
    const upload = createUpload({ ...target, contentType: "text/plain", totalSize: source.length, checkpointStore: store, chunkSize: CHUNK }, runtime);
    const sessions = record(upload, "session");
    const progress = record(upload, "progress");
    const saved = record(upload, "checkpoint-saved");
    const object = (await feed(upload, clock, source)) as Record<string, string>;
    expect(object).toMatchObject({ size: String(source.length), crc32c: crcB64(source), contentType: "text/plain" });
    await expect(upload.done).resolves.toBe(object);
    expect(Buffer.from(model.object("bkt", "obj")!.content!)).toEqual(Buffer.from(source));
    expect(sessions).toHaveLength(1);
    expect((sessions[0]!.checkpoint as Checkpoint).sessionUri).toContain("upload_id=");
    expect(progress.at(-1)).toEqual({ bytesSent: source.length, bytesPersisted: source.length, totalBytes: source.length });
    expect(progress.every((p) => p.totalBytes === source.length)).toBe(true);
    expect(saved.length).toBeGreaterThanOrEqual(2);
    expect(await store.load()).toBeUndefined();
    expect(transport.closed).toBe(1);
    expect(upload.checkpoint()).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
  });

  it("reports totalBytes once the source ended when no totalSize was given", async () => {
    const { runtime, clock } = testRuntime();
    const upload = createUpload({ ...target, chunkSize: CHUNK }, runtime);
    const progress = record(upload, "progress");
    const source = bytesOf(2 * CHUNK + 1);
    await feed(upload, clock, source);
    expect(progress[0]!.totalBytes).toBeUndefined();
    expect(progress.at(-1)).toEqual({ bytesSent: source.length, bytesPersisted: source.length, totalBytes: source.length });
    expect(upload.progress).toEqual(progress.at(-1));
  });

  it("refuses non-bytes writes with a ValidationError and keeps going", async () => {
    const { runtime, clock } = testRuntime();
    const upload = createUpload(target, runtime);
    await expect(upload.write("text" as unknown as Uint8Array)).rejects.toMatchObject({ code: "invalid-argument", field: "write(bytes)" });
    await expect(feed(upload, clock, bytesOf(10))).resolves.toMatchObject({ size: "10" });
  });

  it("a listener that throws ends the upload with its error as the cause", async () => {
    const { runtime, clock } = testRuntime();
    const upload = createUpload(target, runtime);
    const bug = new Error("listener bug");
    upload.on("session", () => {
      throw bug;
    });
    const error = (await runUntilSettled(clock, upload.done).catch((e: unknown) => e)) as UploadError;
    expect(error.code).toBe("aborted");
    expect(error.cause).toBe(bug);
  });

  it("on() returns an unsubscribe function", async () => {
    const { runtime, clock } = testRuntime();
    const upload = createUpload(target, runtime);
    let calls = 0;
    const off = upload.on("progress", () => (calls += 1));
    off();
    await feed(upload, clock, bytesOf(100));
    expect(calls).toBe(0);
  });
});

describe("option validation", () => {
  const cases: [string, Record<string, unknown>, string, RegExp?][] = [
    ["an unknown name", { ...target, chunksize: CHUNK }, "chunksize", /did you mean chunkSize/],
    ["the old nested upload options", { ...target, upload: { chunkSize: CHUNK } }, "upload", /top level/],
    ["the old nested object options", { ...target, object: { metadata: {} } }, "object", /top level/],
    ["onAbort outside its set", { ...target, onAbort: "explode" }, "onAbort", /"cancel", "keep"/],
    ["checksum outside its set", { ...target, checksum: "sha1" }, "checksum"],
    ["chunkSize null", { ...target, chunkSize: null }, "chunkSize"],
    ["chunkSize above 512 MiB", { ...target, chunkSize: 1024 * 1024 * 1024 }, "chunkSize", /512 MiB/],
    ["chunkSize not a multiple of 256 KiB", { ...target, chunkSize: 1000 }, "chunkSize", /262144/],
    ["signal {}", { ...target, signal: {} }, "signal"],
    ["a checkpointStore without load/save", { ...target, checkpointStore: { clear: () => Promise.resolve() } }, "checkpointStore"],
    ["contentType inside metadata", { ...target, metadata: { contentType: "text/plain" } }, "metadata.contentType", /top level/],
    ["an unknown metadata field", { ...target, metadata: { cacheControll: "x" } }, "metadata.cacheControll", /cacheControl/],
    ["a non-string custom metadata value", { ...target, metadata: { metadata: { n: 1 } } }, "metadata.metadata.n"],
    ["idleTimeoutMs inside retry", { ...target, retry: { idleTimeoutMs: 5 } }, "retry.idleTimeoutMs", /top level/],
    ["retry.jitter outside its set", { ...target, retry: { jitter: "some" } }, "retry.jitter"],
    ["a bad bucket name (engine check, flat field)", { bucket: "Bad_Bucket!", name: "o" }, "bucket"],
    ["a protocol header in extraHeaders", { ...target, extraHeaders: { "content-range": "bytes */*" } }, "extraHeaders.content-range"],
    ["no target", { chunkSize: CHUNK }, "bucket", /give a target/],
    ["two targets", { ...target, sessionUri: "https://storage.googleapis.com/x?upload_id=1" }, "sessionUri", /exactly one/],
    ["bucket without name", { bucket: "bkt" }, "name"],
    ["a precondition with a session URI", { sessionUri: "https://storage.googleapis.com/x?upload_id=1", ifGenerationMatch: 0 }, "ifGenerationMatch", /JSON API/],
    ["a short encryption key", { ...target, encryptionKey: new Uint8Array(16) }, "encryptionKey", /32 bytes/],
    ["a trusted origin with a path", { ...target, trustedSessionOrigins: ["https://uploads.example.com/x"] }, "trustedSessionOrigins[0]"],
    ["gzip with totalSize", { ...target, gzip: true, totalSize: 10 }, "gzip"],
    ["plain http to a remote endpoint", { ...target, apiEndpoint: "http://gcs.invalid:9000" }, "apiEndpoint", /non-loopback/],
    ["an endpoint with user info", { ...target, apiEndpoint: "https://user:pw@storage.googleapis.com" }, "apiEndpoint"],
    ["a non-object", "bucket" as unknown as Record<string, unknown>, "options"],
  ];

  it.each(cases)("refuses %s, naming the option, before a transport exists", (_what, options, field, message) => {
    const { runtime, contexts } = testRuntime();
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
  });

  it("accepts adapter-specific option names the runtime declares, and treats undefined as not given", () => {
    const { runtime, contexts } = testRuntime({ extraOptions: ["highWaterMark"] });
    createUpload({ ...target, highWaterMark: 5, chunkSize: undefined } as UploadOptions, runtime);
    expect(contexts[0]!.options).toMatchObject({ highWaterMark: 5 });
    expect(() => createUpload({ ...target, highWaterMark: 5 } as UploadOptions, testRuntime().runtime)).toThrow(/highWaterMark: unknown option/);
  });

  it("refuses an incomplete runtime", () => {
    const { runtime } = testRuntime();
    expect(() => createUpload(target, { ...runtime, sha256: undefined } as never)).toThrow(/runtime.sha256/);
  });
});

describe("endpoint resolution", () => {
  function endpointOf(options: UploadOptions, env: Record<string, string> = {}) {
    const { runtime, contexts } = testRuntime({ env: (name) => env[name] });
    createUpload(options, runtime);
    return contexts[0]!;
  }

  it("apiEndpoint, then STORAGE_EMULATOR_HOST, then universeDomain, then storage.googleapis.com", () => {
    const env = { STORAGE_EMULATOR_HOST: "127.0.0.1:9023" };
    expect(endpointOf({ ...target, apiEndpoint: "https://gcs.example.com/" }, env).endpoint).toMatchObject({ url: "https://gcs.example.com", source: "apiEndpoint" });
    expect(endpointOf({ ...target, universeDomain: "example.goog" }, env).endpoint).toMatchObject({ url: "http://127.0.0.1:9023", insecure: true, source: "STORAGE_EMULATOR_HOST" });
    expect(endpointOf({ ...target, universeDomain: "example.goog" }).endpoint).toMatchObject({ url: "https://storage.example.goog", source: "universeDomain" });
    expect(endpointOf(target).endpoint).toEqual({ url: "https://storage.googleapis.com", origin: "https://storage.googleapis.com", insecure: false, source: "default" });
  });

  it("credentials are allowed for a JSON upload over https, not over plain http unless authOverHttp, never for a session URI or signed URL", () => {
    expect(endpointOf(target).credentialsAllowed).toBe(true);
    expect(endpointOf({ ...target, apiEndpoint: "http://127.0.0.1:9" }).credentialsAllowed).toBe(false);
    expect(endpointOf({ ...target, apiEndpoint: "http://127.0.0.1:9", authOverHttp: true }).credentialsAllowed).toBe(true);
    expect(endpointOf({ ...target, apiEndpoint: "http://gcs.invalid", allowInsecureHttp: true }).credentialsAllowed).toBe(false);
    expect(endpointOf({ sessionUri: "https://storage.googleapis.com/upload?upload_id=abc" }).credentialsAllowed).toBe(false);
    expect(endpointOf({ signedUrl: "https://storage.googleapis.com/bkt/obj?X-Goog-Signature=abc" }).credentialsAllowed).toBe(false);
  });
});

describe("trust rules", () => {
  it("sends credentials only to the endpoint's origin, for a JSON API upload", async () => {
    const { runtime, clock, transport } = testRuntime();
    const upload = createUpload({ ...target, chunkSize: CHUNK }, runtime);
    await feed(upload, clock, bytesOf(CHUNK + 10));
    expect(transport.sent.map((s) => [s.method, new URL(s.url).origin, s.credentials])).toEqual([
      ["POST", "https://storage.googleapis.com", true],
      ["PUT", "https://storage.googleapis.com", true],
      ["PUT", "https://storage.googleapis.com", true],
    ]);
  });

  it("a session URI on a trusted origin gets no credentials; the endpoint's origin does not extend to it", async () => {
    const { runtime, clock, transport, model } = testRuntime();
    const minted = model.createSession("bkt", "obj").replace("https://storage.googleapis.com", "https://uploads.example.com");
    const upload = createUpload({ sessionUri: minted, trustedSessionOrigins: ["https://uploads.example.com"] }, runtime);
    await feed(upload, clock, bytesOf(100));
    expect(transport.sent.length).toBeGreaterThan(0);
    expect(transport.sent.every((s) => !s.credentials && s.url.startsWith("https://uploads.example.com/"))).toBe(true);
  });

  it("refuses a sessionUri on a foreign origin before anything is sent", () => {
    const { runtime, contexts, transport } = testRuntime();
    const attempt = () => createUpload({ sessionUri: "https://evil.invalid/upload?upload_id=stolen-secret-id" }, runtime);
    expect(attempt).toThrow(UploadError);
    expect(attempt).toThrow(/evil\.invalid.*nothing was sent/);
    const error = (() => {
      try {
        attempt();
      } catch (e) {
        return e as UploadError;
      }
    })()!;
    expect(error.code).toBe("untrusted-session-uri");
    expect(error.message).not.toContain("stolen-secret-id");
    expect(contexts).toEqual([]);
    expect(transport.sent).toEqual([]);
  });

  it("refuses plain http session URIs to remote hosts, even on a listed origin, unless allowInsecureHttp", () => {
    const { runtime } = testRuntime();
    const sessionUri = "http://uploads.invalid/upload?upload_id=x";
    expect(() => createUpload({ sessionUri, trustedSessionOrigins: ["http://uploads.invalid"] }, runtime)).toThrow(/plain http/);
    expect(() => createUpload({ sessionUri, trustedSessionOrigins: ["http://uploads.invalid"], allowInsecureHttp: true }, runtime)).not.toThrow();
  });

  it("a start whose Location is on a foreign origin ends untrusted-session-uri; nothing goes there", async () => {
    const { runtime, clock, transport } = testRuntime();
    transport.rewrite = (request, response) =>
      request.method === "POST" ? { ...response, headers: { ...response.headers, location: response.headers.location!.replace("https://storage.googleapis.com", "https://evil.invalid") } } : response;
    const store = new MemoryCheckpointStore();
    const upload = createUpload({ ...target, checkpointStore: store }, runtime);
    const sessions = record(upload, "session");
    void upload.write(bytesOf(CHUNK + 1));
    const error = (await runUntilSettled(clock, upload.done).catch((e: unknown) => e)) as UploadError;
    expect(error).toBeInstanceOf(UploadError);
    expect(error.code).toBe("untrusted-session-uri");
    expect(error.message).toMatch(/Location's session URI is on https:\/\/evil\.invalid/);
    expect(transport.sent.map((s) => s.method)).toEqual(["POST"]);
    expect(transport.sent.some((s) => s.url.includes("evil.invalid"))).toBe(false);
    expect(sessions).toEqual([]);
    expect(await store.load()).toBeUndefined();
    await expect(upload.write(bytesOf(1))).rejects.toMatchObject({ code: "untrusted-session-uri" });
  });

  it("refuses a checkpoint whose session URI is on a foreign origin: hand-edited, re-sealed, or version 1", async () => {
    const { runtime, clock } = testRuntime();
    const first = createUpload({ ...target, onAbort: "keep" }, runtime);
    void first.write(bytesOf(CHUNK + 1));
    await runUntilSettled(clock, flushMicrotasks());
    const kept = (await runUntilSettled(clock, first.abort())) as { checkpoint: Checkpoint };
    const { version: _version, integrity: _integrity, ...fields } = kept.checkpoint;
    const foreign = fields.sessionUri.replace("https://storage.googleapis.com", "https://evil.invalid");
    const refusals: [string, unknown, string][] = [
      // Editing the URI breaks the integrity digest.
      ["hand-edited", { ...kept.checkpoint, sessionUri: foreign }, "invalid-checkpoint"],
      // The digest is not a secret: a forger can re-seal. The origin rule still holds.
      ["re-sealed", sealCheckpoint({ ...fields, sessionUri: foreign }), "untrusted-session-uri"],
      // Version 1 had no digest at all.
      ["version 1", { version: 1, sessionUri: foreign, persisted: fields.resumeOffset, chunkSize: fields.chunkSize, fingerprint: fields.fingerprint }, "untrusted-session-uri"],
    ];
    for (const [what, checkpoint, code] of refusals) {
      const second = testRuntime();
      let error: unknown;
      try {
        createUpload({ ...target, checkpoint }, second.runtime);
      } catch (caught) {
        error = caught;
      }
      expect(error, what).toBeInstanceOf(UploadError);
      expect((error as UploadError).code, what).toBe(code);
      expect(second.contexts, what).toEqual([]);
    }
  });

  it("a signed URL never carries credentials; its session must be on the signed URL's origin", async () => {
    const { runtime, clock, transport } = testRuntime();
    const signedUrl = "https://storage.googleapis.com/bkt/obj?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=abc";
    const upload = createUpload({ signedUrl, apiEndpoint: "https://gcs-proxy.invalid", chunkSize: CHUNK }, runtime);
    await feed(upload, clock, bytesOf(CHUNK + 3));
    expect(transport.sent[0]).toMatchObject({ method: "POST", credentials: false });
    expect(transport.sent.every((s) => !s.credentials && s.url.startsWith("https://storage.googleapis.com/"))).toBe(true);
  });

  it("refuses an http signed URL to a remote host, with nothing sent", () => {
    const { runtime, contexts } = testRuntime();
    expect(() => createUpload({ signedUrl: "http://storage.invalid/bkt/obj?X-Goog-Signature=abc" }, runtime)).toThrow(
      expect.objectContaining({ code: "invalid-argument", field: "signedUrl" }) as Error,
    );
    expect(contexts).toEqual([]);
  });
});

describe("customer-supplied encryption key", () => {
  it("hashes the key with runtime.sha256 and sends the three headers on every request", async () => {
    const key = new Uint8Array(32).map((_, i) => i);
    const { runtime, clock, transport, hashed } = testRuntime();
    const upload = createUpload({ ...target, encryptionKey: Buffer.from(key).toString("base64"), chunkSize: CHUNK }, runtime);
    expect(upload.wantsData).toBe(false); // the engine starts once the hash is known
    await feed(upload, clock, bytesOf(CHUNK + 1));
    expect(hashed).toEqual([key]);
    const sha = createHash("sha256").update(key).digest("base64");
    for (const sent of transport.sent) {
      expect(sent.headers).toMatchObject({ "x-goog-encryption-algorithm": "AES256", "x-goog-encryption-key": Buffer.from(key).toString("base64"), "x-goog-encryption-key-sha256": sha });
    }
  });
});

describe("abort policy", () => {
  async function midUpload(options: Partial<UploadOptions> = {}) {
    const setup = testRuntime();
    const store = new MemoryCheckpointStore();
    const upload = createUpload({ ...target, chunkSize: CHUNK, checkpointStore: store, ...options }, setup.runtime);
    await runUntilSettled(setup.clock, upload.write(bytesOf(2 * CHUNK + 1)));
    await flushMicrotasks();
    return { ...setup, store, upload };
  }

  it("cancel (default): deletes the session, clears the store, done rejects cancelled", async () => {
    const { upload, store, transport, clock } = await midUpload();
    expect(await store.load()).toBeDefined();
    const outcome = await runUntilSettled(clock, upload.abort(new Error("user stop")));
    expect(outcome).toEqual({ outcome: "cancelled" });
    expect(transport.sent.at(-1)?.method).toBe("DELETE");
    await expect(upload.done).rejects.toMatchObject({ code: "cancelled" });
    expect(await store.load()).toBeUndefined();
    expect(upload.abort()).toBe(upload.abort()); // one abort, one answer
    expect(transport.closed).toBe(1);
  });

  it("keep: no DELETE, the checkpoint is saved and returned, done rejects aborted", async () => {
    const { upload, store, transport, clock } = await midUpload({ onAbort: "keep" });
    const outcome = await runUntilSettled(clock, upload.abort("shutting down"));
    expect(outcome.outcome).toBe("kept");
    const checkpoint = (outcome as { checkpoint: Checkpoint }).checkpoint;
    expect(checkpoint.sessionUri).toContain("upload_id=");
    expect(await store.load()).toEqual(JSON.parse(JSON.stringify(checkpoint)));
    expect(transport.sent.some((s) => s.method === "DELETE")).toBe(false);
    await expect(upload.done).rejects.toMatchObject({ code: "aborted", retryable: true });
  });

  it("the signal option aborts with the onAbort policy", async () => {
    const controller = new AbortController();
    const { upload, transport, clock } = await midUpload({ signal: controller.signal });
    controller.abort(new Error("timeout"));
    await expect(runUntilSettled(clock, upload.done)).rejects.toMatchObject({ code: "cancelled" });
    expect(transport.sent.at(-1)?.method).toBe("DELETE");
  });

  it("an abort after the object is final reports it committed", async () => {
    const { runtime, clock } = testRuntime();
    const upload = createUpload(target, runtime);
    const object = await feed(upload, clock, bytesOf(10));
    await expect(upload.abort()).resolves.toEqual({ outcome: "committed", object });
  });
});

describe("checkpoint store", () => {
  it("coalesces saves behind a slow store and saves the newest checkpoint", async () => {
    const saves: UploadCheckpoint[] = [];
    let release: (() => void) | undefined;
    const slow: CheckpointStore = {
      load: () => Promise.resolve(undefined),
      save: (checkpoint) => {
        saves.push(checkpoint);
        return new Promise<void>((resolve) => (release = resolve));
      },
      clear: () => Promise.resolve(),
    };
    const { runtime, clock } = testRuntime();
    const upload = createUpload({ ...target, chunkSize: CHUNK, checkpointStore: slow, onAbort: "keep" }, runtime);
    const progress = record(upload, "progress");
    for (let i = 0; i < 6; i++) await runUntilSettled(clock, upload.write(bytesOf(CHUNK)));
    await flushMicrotasks();
    expect(progress.length).toBeGreaterThan(4);
    expect(saves).toHaveLength(1); // the first is still running: everything since waits as one
    release!();
    await flushMicrotasks();
    expect(saves).toHaveLength(2);
    expect(saves[1]).toEqual(upload.checkpoint());
    release!();
    const outcome = upload.abort();
    await flushMicrotasks();
    release?.();
    await runUntilSettled(clock, outcome);
  });

  it("a failing save ends the upload, saying why", async () => {
    const failing: CheckpointStore = {
      load: () => Promise.resolve(undefined),
      save: () => Promise.reject(new Error("disk full")),
      clear: () => Promise.resolve(),
    };
    const { runtime, clock } = testRuntime();
    const upload = createUpload({ ...target, checkpointStore: failing }, runtime);
    void upload.write(bytesOf(CHUNK + 1));
    const error = (await runUntilSettled(clock, upload.done).catch((e: unknown) => e)) as UploadError;
    expect(error.code).toBe("aborted");
    expect(error.message).toMatch(/checkpoint store failed to save \(disk full\)/);
  });
});

describe("resume", () => {
  it("restores from a checkpoint: resumeOffset, a resumed event, and the rest of the source", async () => {
    const model = new GcsModel();
    const first = testRuntime({}, model);
    const source = bytesOf(4 * CHUNK + 3);
    const a = createUpload({ ...target, chunkSize: CHUNK, onAbort: "keep" }, first.runtime);
    await runUntilSettled(first.clock, a.write(source.subarray(0, 2 * CHUNK + 1)));
    await flushMicrotasks();
    const kept = await runUntilSettled(first.clock, a.abort());
    const checkpoint = JSON.parse(JSON.stringify((kept as { checkpoint: Checkpoint }).checkpoint)) as unknown;

    const second = testRuntime({}, model);
    const b = createUpload({ ...target, chunkSize: CHUNK, checkpoint }, second.runtime);
    const resumed = record(b, "resumed");
    expect(b.resumeOffset).toBeGreaterThan(0);
    const object = await feed(b, second.clock, source.subarray(b.resumeOffset));
    expect(object).toMatchObject({ size: String(source.length), crc32c: crcB64(source) });
    expect(resumed[0]).toMatchObject({ resumeOffset: b.resumeOffset, md5Skipped: false });
  });
});

describe("gzip", () => {
  it("compresses through runtime.gzip, stores contentEncoding gzip, and the stored bytes are the gzip stream", async () => {
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
    const { runtime, clock, model } = testRuntime({ gzip });
    const upload = createUpload({ ...target, gzip: true, contentType: "text/plain" }, runtime);
    const text = new TextEncoder().encode("line\n".repeat(1000));
    const object = (await feed(upload, clock, text, 777)) as Record<string, string>;
    expect(object.contentEncoding).toBe("gzip");
    const stored = model.object("bkt", "obj")!.content!;
    expect(object.crc32c).toBe(crcB64(stored));
    expect(gunzipSync(stored).toString()).toBe("line\n".repeat(1000));
  });

  it("is refused where the runtime has no compressor", () => {
    const { runtime } = testRuntime();
    expect(() => createUpload({ ...target, gzip: true }, runtime)).toThrow(expect.objectContaining({ field: "gzip" }) as Error);
  });
});

describe("errors the caller sees", () => {
  it("AUTH_ADVICE names every way out", () => {
    expect(AUTH_ADVICE).toMatch(/gcloud auth application-default login/);
    expect(AUTH_ADVICE).toMatch(/GOOGLE_APPLICATION_CREDENTIALS/);
    expect(AUTH_ADVICE).toMatch(/emulator/);
  });
});

describe("with the engine's endings", () => {
  it("a credentials failure ends at once with code auth, the auth library's reason and what to do; nothing is retried", async () => {
    const { runtime, clock, contexts } = testRuntime();
    const failing: Transport = {
      specificationVersion: 2,
      capabilities: { uploadProgress: true },
      send: () => Promise.reject(new TransportError("auth", "POST https://storage.googleapis.com/upload: could not get credentials: Could not load the default credentials")),
    };
    let sends = 0;
    const upload = createUpload(target, {
      ...runtime,
      createTransport: (context) => {
        contexts.push(context);
        return { ...failing, send: (...args) => (sends++, failing.send(...args)) };
      },
    });
    const retries = record(upload, "retry");
    void upload.write(bytesOf(10));
    const error = (await runUntilSettled(clock, upload.done).catch((e: unknown) => e)) as UploadError;
    expect(error).toMatchObject({ code: "auth", retryable: false });
    expect(error.message).toContain("Could not load the default credentials");
    expect(error.message).toContain(AUTH_ADVICE);
    expect(sends).toBe(1);
    expect(retries).toEqual([]);
    await expect(upload.write(bytesOf(1))).rejects.toBe(error);
  });

  it("a 401 mid-upload is retried once with refreshCredentials", async () => {
    const model = new GcsModel({ faults: (info) => (info.index === 1 ? { kind: "status", status: 401, message: "token expired" } : undefined) });
    const { runtime, clock, transport } = testRuntime({}, model);
    const upload = createUpload({ ...target, chunkSize: CHUNK }, runtime);
    await feed(upload, clock, bytesOf(CHUNK + 10));
    expect(transport.sent.map((s) => s.refreshCredentials)).toContain(true);
    expect(transport.sent.filter((s) => s.refreshCredentials)).toHaveLength(1);
    expect(transport.sent.find((s) => s.refreshCredentials)?.credentials).toBe(true);
  });

  it("a cancel that finds the object committed reports committed and resolves done", async () => {
    // The final request commits but its answer is lost; the cancel's DELETE then meets a final object.
    const model = new GcsModel({ faults: (info) => (info.type === "chunk" && info.request.headers["content-range"]?.endsWith("/10") ? { kind: "lose-response" } : undefined) });
    const { runtime, clock } = testRuntime({}, model);
    const store = new MemoryCheckpointStore();
    const upload = createUpload({ ...target, checkpointStore: store }, runtime);
    await upload.write(bytesOf(10));
    void upload.end();
    await flushMicrotasks();
    expect(model.object("bkt", "obj")).toBeDefined(); // committed; the client does not know yet
    const outcome = await runUntilSettled(clock, upload.abort(new Error("user stop")));
    expect(outcome).toMatchObject({ outcome: "committed", object: { size: "10" } });
    await expect(upload.done).resolves.toMatchObject({ size: "10" });
    expect(await store.load()).toBeUndefined();
  });

  it("stamps the checkpoint's createdAt from runtime.wallClock (ISO 8601)", async () => {
    const { runtime, clock } = testRuntime({ wallClock: () => Date.UTC(2030, 0, 2, 3, 4, 5) });
    const upload = createUpload(target, runtime);
    const sessions = record(upload, "session");
    void upload.write(bytesOf(CHUNK + 1));
    await runUntilSettled(clock, flushMicrotasks());
    expect(sessions[0]!.checkpoint.createdAt).toBe("2030-01-02T03:04:05.000Z");
    void upload.abort();
  });

  it("refuses a hand-edited checkpoint (its integrity digest no longer matches), nothing sent", async () => {
    const { runtime, clock } = testRuntime();
    const first = createUpload({ ...target, onAbort: "keep" }, runtime);
    void first.write(bytesOf(2 * CHUNK + 1));
    await runUntilSettled(clock, flushMicrotasks());
    const kept = (await runUntilSettled(clock, first.abort())) as { checkpoint: Checkpoint };
    const edited = { ...kept.checkpoint, resumeOffset: kept.checkpoint.resumeOffset + CHUNK };
    const second = testRuntime();
    expect(() => createUpload({ ...target, checkpoint: edited }, second.runtime)).toThrow(expect.objectContaining({ code: "invalid-checkpoint" }) as Error);
    expect(second.contexts).toEqual([]);
  });
});
