/**
 * `upload()` against the emulator, the same in every runtime: sources of every shape, every fault
 * instruction of the emulator's vocabulary, abort, a throwing source, resume.
 */
import { MemoryCheckpointStore, UploadError, type Checkpoint, type ObjectResource, type UploadEventMap } from "@resumable-gcs/core";
import { crc32c } from "@resumable-gcs/core/test";
import { Readable } from "node:stream";
import { skipPersisted } from "../skip-persisted.js";
import { upload, type IterUploadOptions } from "../upload.js";
import { check, checkEqual, rejection, type SuiteCase, type SuiteEnvironment } from "./case.js";
import { assertSameBytes, countingGenerator, generated, io, pieces } from "./data.js";
import { faultHeaders, faultStatus, objectBytes, objectMetadata, sessionStatus, uniqueName } from "./emulator-client.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = 256 * KiB;

/** Options for an upload to the emulator, with retries quick enough for tests. */
function options(environment: SuiteEnvironment, name: string, extra: Partial<IterUploadOptions> = {}): IterUploadOptions {
  return {
    bucket: environment.bucket,
    name,
    apiEndpoint: environment.emulatorUrl,
    chunkSize: CHUNK,
    retry: { initialDelayMs: 1, maxDelayMs: 20 },
    ...extra,
  };
}

/** Checks the stored object is `expected`, byte for byte, and its size in the resource. */
async function expectStored(environment: SuiteEnvironment, name: string, object: ObjectResource, expected: Uint8Array): Promise<void> {
  checkEqual(object.size, String(expected.byteLength), "size in the object resource");
  assertSameBytes(await objectBytes(environment.emulatorUrl, environment.bucket, name), expected, `stored ${name}`);
}

/** A case that uploads `data` from the source `make` builds and checks what was stored. */
function shapeCase(name: string, size: number, make: (data: Uint8Array) => unknown, extra: Partial<IterUploadOptions> = {}, skipIn?: SuiteCase["skipIn"]): SuiteCase {
  return {
    name,
    ...(skipIn === undefined ? {} : { skipIn }),
    async run(environment) {
      const data = generated(size, size + 7);
      const object = uniqueName("shape");
      const resource = await upload(make(data) as AsyncIterable<Uint8Array>, options(environment, object, extra));
      await expectStored(environment, object, resource, data);
    },
  };
}

async function* asyncPieces(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (const piece of pieces(data, size)) yield await io(piece);
}

function streamOf(data: Uint8Array, size: number): ReadableStream<Uint8Array> {
  const all = pieces(data, size);
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = all.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(next);
    },
  });
}

const shapeCases: readonly SuiteCase[] = [
  shapeCase("shapes: an async generator of 1-byte chunks", 3000, (data) => asyncPieces(data, 1)),
  shapeCase("shapes: 1-byte chunks across a chunk boundary", CHUNK + 40, (data) =>
    (async function* () {
      yield* asyncPieces(data.subarray(0, CHUNK - 40), 64 * KiB);
      yield* asyncPieces(data.subarray(CHUNK - 40), 1);
    })(),
  ),
  shapeCase("shapes: an empty source is a 0-byte object", 0, () => asyncPieces(new Uint8Array(0), 1)),
  shapeCase("shapes: an empty array is a 0-byte object", 0, () => []),
  shapeCase("shapes: exactly one chunk", CHUNK, (data) => asyncPieces(data, 64 * KiB)),
  shapeCase("shapes: an exact multiple of the chunk size (3 chunks)", 3 * CHUNK, (data) => asyncPieces(data, 100_000)),
  shapeCase("shapes: a multiple of the chunk size plus one byte (the last piece empty)", 2 * CHUNK + 1, (data) => [...pieces(data, 2 * CHUNK), new Uint8Array(0)]),
  shapeCase("shapes: a multiple of the chunk size minus one byte", 2 * CHUNK - 1, (data) => asyncPieces(data, CHUNK)),
  shapeCase("shapes: chunks larger than the upload's chunk size", 3 * CHUNK - 1, (data) => asyncPieces(data, CHUNK + 12_345)),
  shapeCase("shapes: a Web ReadableStream", 2 * CHUNK + 99, (data) => streamOf(data, 50_000)),
  shapeCase("shapes: a Node Readable (node:stream, also in Deno and Bun)", 2 * CHUNK + 5, (data) => Readable.from(pieces(data, 70_000))),
  shapeCase("shapes: a sync iterable (an array of chunks)", CHUNK + 17, (data) => pieces(data, 1000)),
  shapeCase(
    "shapes: a sync generator",
    CHUNK * 2,
    (data) =>
      (function* () {
        yield* pieces(data, 4096);
      })(),
  ),
  shapeCase("shapes: a declared totalSize", 2 * CHUNK + 11, (data) => asyncPieces(data, 30_000), { totalSize: 2 * CHUNK + 11 }),
  {
    name: "shapes: one 100 MiB chunk at the default chunk size",
    // Measured once in Node: the other runtimes' portable checksums make it slow without telling more.
    skipIn: ["deno", "bun"],
    async run(environment) {
      const data = generated(100 * MiB + 3, 100);
      const object = uniqueName("large");
      const resource = await upload([data], { bucket: environment.bucket, name: object, apiEndpoint: environment.emulatorUrl });
      checkEqual(resource.size, String(data.byteLength), "size");
      const stored = await objectMetadata(environment.emulatorUrl, environment.bucket, object);
      const expected = crc32c(data);
      const crcBytes = Uint8Array.of(expected >>> 24, (expected >>> 16) & 0xff, (expected >>> 8) & 0xff, expected & 0xff);
      checkEqual(stored?.["crc32c"], btoa(String.fromCharCode(...crcBytes)), "stored CRC32C");
    },
  },
];

/** A fault case: the upload survives `instructions` and stores the bytes; every instruction was used. */
function faultCase(instructions: readonly string[], size = 3 * 2 * CHUNK + 100, chunkSize = 2 * CHUNK): SuiteCase {
  return {
    name: `faults: ${instructions.join(", ")}`,
    async run(environment) {
      const data = generated(size, instructions.length + size);
      const object = uniqueName("fault");
      const headers = await faultHeaders(environment.emulatorUrl, instructions);
      const retries: UploadEventMap["retry"][] = [];
      const resource = await upload(asyncPieces(data, 64 * KiB), options(environment, object, { chunkSize, extraHeaders: headers, onRetry: (retry) => retries.push(retry) }));
      await expectStored(environment, object, resource, data);
      const status = await faultStatus(environment.emulatorUrl, headers);
      check(status.completed, `every fault was used; left: ${JSON.stringify(status.instructions)}`);
      // An HTTP error status is always seen, and retried. (A lost final response is recovered by a
      // status query instead; a reset connection may be resent by the runtime's own HTTP client
      // before the upload sees it: Deno's and Bun's fetch resend an idempotent PUT on a reset
      // connection, which is harmless, since the session pins what each range means.)
      if (instructions.some((instruction) => /return-[45]\d\d/.test(instruction))) {
        check(retries.length >= 1, "onRetry was called");
        check(retries.every((retry) => retry.error instanceof UploadError && retry.attempt >= 1), "retry events carry typed errors");
      }
    },
  };
}

const faultCases: readonly SuiteCase[] = [
  ...["408", "429", "500", "502", "503", "504"].map((status) => faultCase([`chunk#2:return-${status}`])),
  faultCase(["return-503"]),
  faultCase(["start:return-503"]),
  faultCase(["chunk#1:return-reset-connection"]),
  faultCase(["chunk#2:return-503-after-256K"]),
  faultCase(["chunk#2:return-reset-connection-after-256K"]),
  faultCase(["chunk#1:stall-for-500ms-after-128K"]),
  faultCase(["chunk#2:return-broken-stream"]),
  faultCase(["chunk#2:return-short-ack-256K"]),
  faultCase(["final:return-broken-stream-final-chunk-after-100B"]),
  faultCase(["final:return-truncated-body-final-chunk-after-40B"]),
  faultCase(["chunk#1:return-503", "query:return-503"]),
  faultCase(["start:return-429", "chunk#1:return-503-after-256K", "query:return-500", "chunk#3:return-reset-connection", "final:return-broken-stream-final-chunk-after-10B"]),
];

/** Waits for the abort decided in a progress callback, then checks how it ended. */
async function abortedUpload(environment: SuiteEnvironment, onAbort: "cancel" | "keep", extra: Partial<IterUploadOptions> = {}) {
  const data = generated(6 * CHUNK, 42);
  const object = uniqueName(`abort-${onAbort}`);
  const controller = new AbortController();
  const store = new MemoryCheckpointStore();
  let session: Checkpoint | undefined;
  const { log, source } = countingGenerator(data, 32 * KiB);
  const error = (await rejection(
    upload(
      source,
      options(environment, object, {
        signal: controller.signal,
        onAbort,
        checkpointStore: store,
        onSession: ({ checkpoint }) => (session = checkpoint as Checkpoint),
        onProgress: (progress) => {
          if (progress.bytesPersisted >= 2 * CHUNK) controller.abort(new Error("the user pressed stop"));
        },
        ...extra,
      }),
    ),
    "aborted upload",
  )) as UploadError;
  check(session !== undefined, "onSession was called");
  return { data, object, error, log, session, store };
}

const abortCases: readonly SuiteCase[] = [
  {
    name: "abort: the signal with onAbort cancel deletes the session, rejects cancelled, runs the generator's finally",
    async run(environment) {
      const { error, log, session, object } = await abortedUpload(environment, "cancel");
      check(error instanceof UploadError, `an UploadError, came ${String(error)}`);
      checkEqual(error.code, "cancelled", "code");
      check(log.finallyRan, "the generator's finally ran");
      check(log.pulledBytes < 6 * CHUNK, "the source was not read to its end");
      const status = await sessionStatus(session.sessionUri);
      check(status === 404 || status === 410 || status === 499, `the session is gone, it answered ${status}`);
      checkEqual(await objectMetadata(environment.emulatorUrl, environment.bucket, object), undefined, "no object");
    },
  },
  {
    name: "abort: a cancel whose DELETE meets a 503 retries it: the session is still deleted (delete:return-503)",
    async run(environment) {
      const headers = await faultHeaders(environment.emulatorUrl, ["delete:return-503"]);
      const { error, session } = await abortedUpload(environment, "cancel", { extraHeaders: headers });
      checkEqual(error.code, "cancelled", "code");
      const status = await sessionStatus(session.sessionUri);
      check(status === 404 || status === 410 || status === 499, `the session is gone, it answered ${status}`);
      check((await faultStatus(environment.emulatorUrl, headers)).completed, "the DELETE fault was used");
    },
  },
  {
    name: "abort: with onAbort keep the session stays resumable; a resume from resumeOffset completes it",
    async run(environment) {
      const { data, error, log, store, object } = await abortedUpload(environment, "keep");
      checkEqual(error.code, "aborted", "code");
      check(log.finallyRan, "the generator's finally ran");
      const checkpoint = (await store.load()) as Checkpoint | undefined;
      check(checkpoint !== undefined, "the checkpoint was saved to the store");
      check(checkpoint.resumeOffset >= 2 * CHUNK, `resumeOffset ${checkpoint.resumeOffset} covers what was persisted`);
      checkEqual(await sessionStatus(checkpoint.sessionUri), 308, "the session is open");
      const resumed: UploadEventMap["resumed"][] = [];
      const saved: UploadEventMap["checkpoint-saved"][] = [];
      const resource = await upload(
        asyncPieces(data.subarray(checkpoint.resumeOffset), 40_000),
        options(environment, object, { checkpoint, checkpointStore: store, onResumed: (event) => resumed.push(event), onCheckpointSaved: (event) => saved.push(event) }),
      );
      await expectStored(environment, object, resource, data);
      checkEqual(resumed.map((event) => event.resumeOffset), [checkpoint.resumeOffset], "onResumed: the offset resumed from");
      check(saved.length >= 1, "onCheckpointSaved was called as the resumed upload went");
      checkEqual(await store.load(), undefined, "the store is cleared once the object is final");
    },
  },
  {
    name: "abort: an already-aborted signal sends nothing and leaves the source unread",
    async run(environment) {
      const controller = new AbortController();
      controller.abort(new Error("too late"));
      const headers = await faultHeaders(environment.emulatorUrl, ["start:return-503"]);
      const { log, source } = countingGenerator(generated(1000), 100);
      const error = (await rejection(upload(source, options(environment, uniqueName("pre-aborted"), { signal: controller.signal, extraHeaders: headers })), "upload")) as UploadError;
      check(error instanceof UploadError && (error.code === "cancelled" || error.code === "aborted"), `cancelled or aborted, came ${String(error)}`);
      checkEqual(log.pulls, 0, "pulls");
      checkEqual((await faultStatus(environment.emulatorUrl, headers)).instructions["storage.objects.insert"], ["start:return-503"], "no request reached the server");
    },
  },
];

const sourceFailureCases: readonly SuiteCase[] = [
  {
    name: "source errors: a generator that throws mid-way cancels the session and rejects with the error as cause",
    async run(environment) {
      const boom = new Error("the database went away");
      let finallyRan = false;
      let session: Checkpoint | undefined;
      async function* source(): AsyncGenerator<Uint8Array> {
        try {
          yield* asyncPieces(generated(3 * CHUNK, 5), 64 * KiB);
          throw boom;
        } finally {
          finallyRan = true;
        }
      }
      const error = (await rejection(upload(source(), options(environment, uniqueName("throws"), { onSession: ({ checkpoint }) => (session = checkpoint as Checkpoint) })), "upload")) as UploadError;
      checkEqual([error.code, error.cause === boom], ["cancelled", true], "code and cause");
      check(error.message.includes("the database went away"), error.message);
      check(finallyRan, "the generator's finally ran");
      check(session !== undefined, "a session had started");
      const status = await sessionStatus(session.sessionUri);
      check(status === 404 || status === 410 || status === 499, `the session was cancelled, it answered ${status}`);
    },
  },
  {
    name: "source errors: with onAbort keep, a throwing source leaves the session resumable (code aborted)",
    async run(environment) {
      const boom = new RangeError("bad row");
      const store = new MemoryCheckpointStore();
      async function* source(): AsyncGenerator<Uint8Array> {
        yield await io(generated(2 * CHUNK + 10, 6));
        throw boom;
      }
      const error = (await rejection(upload(source(), options(environment, uniqueName("throws-keep"), { onAbort: "keep", checkpointStore: store })), "upload")) as UploadError;
      checkEqual([error.code, error.cause === boom, error.retryable], ["aborted", true, true], "code, cause, retryable");
      const checkpoint = (await store.load()) as Checkpoint | undefined;
      check(checkpoint !== undefined, "the checkpoint was saved");
      checkEqual(await sessionStatus(checkpoint.sessionUri), 308, "the session is open");
    },
  },
  {
    name: "source errors: a source that throws before its first chunk starts no session",
    async run(environment) {
      const headers = await faultHeaders(environment.emulatorUrl, ["start:return-503"]);
      // eslint-disable-next-line require-yield -- fails before yielding
      async function* source(): AsyncGenerator<Uint8Array> {
        await io(undefined);
        throw new Error("no such file");
      }
      const error = (await rejection(upload(source(), options(environment, uniqueName("throws-at-once"), { extraHeaders: headers })), "upload")) as UploadError;
      checkEqual(error.code, "cancelled", "code");
      check(error.message.endsWith("no session had been started"), error.message);
      checkEqual((await faultStatus(environment.emulatorUrl, headers)).instructions["storage.objects.insert"], ["start:return-503"], "no request reached the server");
    },
  },
  {
    name: "source errors: a string chunk first is invalid-argument naming it, and nothing is sent",
    async run(environment) {
      const headers = await faultHeaders(environment.emulatorUrl, ["start:return-503"]);
      const error = (await rejection(upload(["hello"] as unknown as Uint8Array[], options(environment, uniqueName("string"), { extraHeaders: headers })), "upload")) as UploadError;
      checkEqual([error.code, (error as { field?: string }).field], ["invalid-argument", "source"], "code and field");
      check(error.message.includes("chunk #1 (at byte 0) is a string (5 characters)"), error.message);
      checkEqual((await faultStatus(environment.emulatorUrl, headers)).instructions["storage.objects.insert"], ["start:return-503"], "no request reached the server");
    },
  },
  {
    name: "source errors: an Int16Array mid-way stops the upload with invalid-argument and cancels the session",
    async run(environment) {
      let session: Checkpoint | undefined;
      const chunks: unknown[] = [generated(CHUNK + 1, 8), new Int16Array(4)];
      const error = (await rejection(upload(chunks as Uint8Array[], options(environment, uniqueName("int16"), { onSession: ({ checkpoint }) => (session = checkpoint as Checkpoint) })), "upload")) as UploadError;
      checkEqual(error.code, "invalid-argument", "code");
      check(error.message.includes(`chunk #2 (at byte ${CHUNK + 1}) is an Int16Array`), error.message);
      check(session !== undefined, "a session had started");
      const status = await sessionStatus(session.sessionUri);
      check(status === 404 || status === 410 || status === 499, `the session was cancelled, it answered ${status}`);
    },
  },
  {
    name: "upload errors: a refused chunk (404: session gone) rejects with the upload's code and runs the generator's finally",
    async run(environment) {
      const headers = await faultHeaders(environment.emulatorUrl, ["chunk#2:return-404"]);
      const { log, source } = countingGenerator(generated(8 * CHUNK, 9), 64 * KiB);
      const error = (await rejection(upload(source, options(environment, uniqueName("gone"), { extraHeaders: headers })), "upload")) as UploadError;
      checkEqual(error.code, "session-expired", "code");
      check(log.finallyRan, "the generator's finally ran");
      check(log.pulledBytes < 8 * CHUNK, `the source was not read to its end (${log.pulledBytes} bytes pulled)`);
    },
  },
];

const pullCases: readonly SuiteCase[] = [
  {
    name: "backpressure: the source is never read further ahead of what the server holds than the upload's buffer plus one source chunk",
    async run(environment) {
      const data = generated(24 * CHUNK, 11);
      const piece = 16 * KiB;
      let persisted = 0;
      let worst = 0;
      const log = { pulledBytes: 0 };
      async function* source(): AsyncGenerator<Uint8Array> {
        for (const part of pieces(data, piece)) {
          log.pulledBytes += part.byteLength;
          worst = Math.max(worst, log.pulledBytes - persisted);
          yield await io(part);
        }
      }
      const object = uniqueName("pulls");
      const resource = await upload(source(), options(environment, object, { onProgress: (progress) => (persisted = progress.bytesPersisted) }));
      await expectStored(environment, object, resource, data);
      // The upload layer holds at most about two chunks (one in flight, one filling).
      check(worst <= 2 * CHUNK + piece, `read ahead of the server by at most 2 chunks + one source chunk, came ${worst} bytes`);
    },
  },
  {
    name: "backpressure: readAhead lets the source run ahead by that many bytes, no more",
    async run(environment) {
      const data = generated(16 * CHUNK, 12);
      const piece = 16 * KiB;
      let persisted = 0;
      let worst = 0;
      let pulled = 0;
      async function* source(): AsyncGenerator<Uint8Array> {
        for (const part of pieces(data, piece)) {
          pulled += part.byteLength;
          worst = Math.max(worst, pulled - persisted);
          yield await io(part);
        }
      }
      const object = uniqueName("read-ahead");
      const readAhead = CHUNK;
      const resource = await upload(source(), options(environment, object, { readAhead, onProgress: (progress) => (persisted = progress.bytesPersisted) }));
      await expectStored(environment, object, resource, data);
      check(worst <= 2 * CHUNK + piece + readAhead, `read ahead by at most 2 chunks + one source chunk + readAhead, came ${worst} bytes`);
    },
  },
];

const resumeCases: readonly SuiteCase[] = [
  {
    name: "resume: skipPersisted skips the checkpoint's prefix of a replayed source after checking its CRC32C",
    async run(environment) {
      const { data, store, object } = await abortedUpload(environment, "keep");
      const checkpoint = (await store.load()) as Checkpoint;
      const rest = await skipPersisted(asyncPieces(data, 100_000), checkpoint);
      const resource = await upload(rest, options(environment, object, { checkpoint }));
      await expectStored(environment, object, resource, data);
    },
  },
  {
    name: "resume: skipPersisted refuses a different source (invalid-checkpoint) and nothing is sent",
    async run(environment) {
      const { data, store } = await abortedUpload(environment, "keep");
      const checkpoint = (await store.load()) as Checkpoint;
      const altered = data.slice();
      altered[100] = (altered[100]! + 1) & 0xff;
      let finallyRan = false;
      async function* source(): AsyncGenerator<Uint8Array> {
        try {
          yield* asyncPieces(altered, 100_000);
        } finally {
          finallyRan = true;
        }
      }
      const error = (await rejection(skipPersisted(source(), checkpoint), "skipPersisted")) as UploadError;
      checkEqual(error.code, "invalid-checkpoint", "code");
      check(/first \d+ bytes have CRC32C 0x[0-9a-f]{8}, the checkpoint says 0x[0-9a-f]{8}/.test(error.message), error.message);
      check(finallyRan, "the source was closed");
      checkEqual(await sessionStatus(checkpoint.sessionUri), 308, "the session is untouched");
    },
  },
];

const optionCases: readonly SuiteCase[] = [
  ...[
    { extra: { colour: "blue" }, field: "colour" },
    { extra: { highWaterMark: 1024 }, field: "highWaterMark" },
    { extra: { chunkSize: 1000 }, field: "chunkSize" },
    { extra: { readAhead: -1 }, field: "readAhead" },
    { extra: { onProgress: "yes" }, field: "onProgress" },
    { extra: { runtime: {} }, field: "runtime" },
  ].map(
    ({ extra, field }): SuiteCase => ({
      name: `options: ${field} ${JSON.stringify(extra[field as keyof typeof extra])} is refused naming it; nothing is sent and the source is closed`,
      async run(environment) {
        const headers = await faultHeaders(environment.emulatorUrl, ["start:return-503"]);
        const { log, source } = countingGenerator(generated(1000), 100);
        const error = (await rejection(
          upload(source, { ...options(environment, uniqueName("options"), { extraHeaders: headers }), ...(extra as Partial<IterUploadOptions>) }),
          "upload",
        )) as UploadError & { field?: string };
        checkEqual([error.code, error.field], ["invalid-argument", field], "code and field");
        check(log.pulls <= 1, `at most the first chunk was read, came ${log.pulls} pulls`);
        check(log.finallyRan || log.pulls === 0, "a source that was read from is closed");
        checkEqual((await faultStatus(environment.emulatorUrl, headers)).instructions["storage.objects.insert"], ["start:return-503"], "no request reached the server");
      },
    }),
  ),
  {
    name: "options: a token provider as auth is not called for a plain-http emulator (credentials stay off)",
    async run(environment) {
      let calls = 0;
      const object = uniqueName("auth");
      const data = generated(1000, 2);
      const resource = await upload([data], options(environment, object, { auth: () => (calls++, "ya29.secret") }));
      await expectStored(environment, object, resource, data);
      checkEqual(calls, 0, "token provider calls");
    },
  },
];

const skipCases: readonly SuiteCase[] = [
  {
    name: "resume: skipPersisted refuses a source that ends before resumeOffset",
    async run(environment) {
      const { data, store } = await abortedUpload(environment, "keep");
      const checkpoint = (await store.load()) as Checkpoint;
      const error = (await rejection(skipPersisted([data.subarray(0, 1000)], checkpoint), "skipPersisted")) as UploadError;
      checkEqual(error.code, "invalid-checkpoint", "code");
      check(error.message.startsWith(`the source ended after 1000 bytes, but the checkpoint resumes at byte ${checkpoint.resumeOffset}`), error.message);
    },
  },
  {
    name: "resume: skipPersisted needs unverified: true for a checkpoint without CRC32C (checksum md5)",
    async run(environment) {
      const { data, store, object } = await abortedUpload(environment, "keep", { checksum: "md5" });
      const checkpoint = (await store.load()) as Checkpoint;
      checkEqual(checkpoint.crc32c, undefined, "the checkpoint's crc32c");
      const error = (await rejection(skipPersisted([data], checkpoint), "skipPersisted")) as UploadError & { field?: string };
      checkEqual([error.code, error.field], ["invalid-argument", "checkpoint"], "code and field");
      check(error.message.includes("pass { unverified: true }"), error.message);
      const rest = await skipPersisted(pieces(data, 77_777), checkpoint, { unverified: true });
      const resource = await upload(rest, options(environment, object, { checkpoint, checksum: "md5" }));
      await expectStored(environment, object, resource, data);
    },
  },
  {
    name: "resume: skipPersisted refuses a malformed checkpoint before reading the source",
    async run() {
      const { log, source } = countingGenerator(generated(100), 10);
      const error = (await rejection(skipPersisted(source, { version: 2, sessionUri: "nope" }), "skipPersisted")) as UploadError;
      checkEqual(error.code, "invalid-checkpoint", "code");
      checkEqual(log.pulls, 0, "pulls");
    },
  },
  {
    name: "resume: closing what skipPersisted returned closes the source",
    async run(environment) {
      const { data, store } = await abortedUpload(environment, "keep");
      const checkpoint = (await store.load()) as Checkpoint;
      const { log, source } = countingGenerator(data, 100_000);
      const rest = await skipPersisted(source, checkpoint);
      const iterator = rest[Symbol.asyncIterator]();
      const head = await iterator.next();
      check(head.done !== true && head.value.byteLength > 0, "the rest starts with the straddling chunk's tail");
      checkEqual(head.value?.[0], data[checkpoint.resumeOffset], "the first byte of the rest is the byte at resumeOffset");
      await iterator.return?.();
      check(log.finallyRan, "the source's finally ran");
    },
  },
];

/** Every upload case, in order. */
/** Options for a multipart upload (`parallelism`, 5 MiB parts): the base ones without `chunkSize`, which multipart refuses. */
function multipartOptions(environment: SuiteEnvironment, name: string, extra: Partial<IterUploadOptions> = {}): IterUploadOptions {
  const { chunkSize: _chunkSize, ...base } = options(environment, name);
  return { ...base, parallelism: 3, partSize: 5 * MiB, ...extra };
}

const multipartCases: readonly SuiteCase[] = [
  {
    name: "single request: a source smaller than one chunk is one request (no onSession), survives a 503 and a cut response",
    async run(environment) {
      const data = generated(CHUNK - 3, 30);
      const name = uniqueName("single");
      const headers = await faultHeaders(environment.emulatorUrl, ["single:return-503", "single:return-broken-stream-final-chunk-after-10B"]);
      let sessions = 0;
      const object = await upload(asyncPieces(data, 10_000), options(environment, name, { extraHeaders: headers, onSession: () => (sessions += 1) }));
      await expectStored(environment, name, object, data);
      checkEqual(sessions, 0, "onSession calls");
      check((await faultStatus(environment.emulatorUrl, headers)).completed, "both faults were used");
    },
  },
  {
    name: "multipart: parallelism 3 uploads an async iterable byte for byte; a part is retried alone after a 503",
    async run(environment) {
      const data = generated(3 * 5 * MiB + 11, 31);
      const name = uniqueName("multipart");
      const headers = await faultHeaders(environment.emulatorUrl, ["mp-part#2:return-503"]);
      const retried: (number | undefined)[] = [];
      const object = await upload(asyncPieces(data, 300_000), multipartOptions(environment, name, { extraHeaders: headers, onRetry: ({ partNumber }) => retried.push(partNumber) }));
      await expectStored(environment, name, object, data);
      checkEqual(retried.length, 1, "retries");
      check(retried[0] !== undefined, "the retry names its part");
      check((await faultStatus(environment.emulatorUrl, headers)).completed, "the part fault was used");
    },
  },
  {
    name: "multipart: skipPersisted skips a multipart checkpoint's completed parts after checking their CRC32C; the resumed upload is whole",
    async run(environment) {
      const data = generated(3 * 5 * MiB + 9, 32);
      const name = uniqueName("multipart-resume");
      const store = new MemoryCheckpointStore();
      const controller = new AbortController();
      let partOneSaved!: () => void;
      const saved = new Promise<void>((resolve) => (partOneSaved = resolve));
      // The source holds back its end until part 1 is checkpointed, then the abort comes: the upload
      // cannot have been completed by then (part 1 is needed; parts finish out of order).
      const source = async function* (): AsyncGenerator<Uint8Array> {
        yield* asyncPieces(data.subarray(0, 2 * 5 * MiB), 256 * KiB);
        await saved;
        controller.abort(new Error("stop"));
        yield* asyncPieces(data.subarray(2 * 5 * MiB), 256 * KiB);
      };
      const first = upload(
        source(),
        multipartOptions(environment, name, {
          parallelism: 2,
          onAbort: "keep",
          checkpointStore: store,
          signal: controller.signal,
          onCheckpointSaved: ({ checkpoint }) => {
            if (checkpoint.kind === "xml-multipart" && checkpoint.parts.some((p) => p.partNumber === 1)) partOneSaved();
          },
        }),
      );
      checkEqual(((await rejection(first, "first upload")) as UploadError).code, "aborted", "the first upload's code");
      const checkpoint = await store.load();
      checkEqual((checkpoint as { kind?: string }).kind, "xml-multipart", "the saved checkpoint's kind");
      const wrong = generated(data.byteLength, 33);
      checkEqual(((await rejection(skipPersisted(asyncPieces(wrong, 100_000), checkpoint), "skipPersisted of another source")) as UploadError).code, "invalid-checkpoint", "another source");
      const rest = await skipPersisted(asyncPieces(data, 100_000), checkpoint);
      const object = await upload(rest, multipartOptions(environment, name, { parallelism: 2, checkpoint }));
      await expectStored(environment, name, object, data);
    },
  },
];

export const uploadCases: readonly SuiteCase[] = [...shapeCases, ...optionCases, ...faultCases, ...abortCases, ...sourceFailureCases, ...pullCases, ...resumeCases, ...skipCases, ...multipartCases];
