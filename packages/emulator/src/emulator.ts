/**
 * The in-process API: `startEmulator(options)` starts a server on `node:http` and hands back a handle
 * to read objects, create buckets, register faults and stop. Stopping closes the listener, destroys
 * every open socket (keep-alive ones included) and aborts every pending wait (latency, stalls).
 */
import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { Exchange, isAbort } from "./exchange.js";
import type { RetryTest } from "./faults.js";
import { route } from "./routes.js";
import { EmulatorState } from "./state.js";
import { crc32cToBase64 } from "./checksums.js";
import { corsProblem, type CorsRule } from "./cors.js";
import { bucketNameProblem, objectResource, type MultipartUpload, type StoredObject } from "./store.js";

/** Options of {@link startEmulator}. Every one is optional. */
export interface EmulatorOptions {
  /** Interface to bind. Default `127.0.0.1` (loopback only). */
  host?: string;
  /** Port to bind. Default 0: a free port, read it from {@link Emulator.port}. */
  port?: number;
  /** `memory` (default) keeps object bytes; `discard` keeps only size, CRC32C and MD5 (multi-GiB benchmarks). */
  storage?: "memory" | "discard";
  /** How long an upload session lives, from its start. Default 7 days, as GCS. */
  sessionTtlMs?: number;
  /**
   * The wall clock (epoch ms) for session expiry, generations and timestamps. Default `Date.now`; a test
   * passes its own to expire sessions without waiting.
   */
  now?: () => number;
  /** Fixed delay before every response, to model a network round trip. Default 0. */
  latencyMs?: number;
  /**
   * Compute MD5 (default true). `false` leaves it out (CRC32C is still computed): objects have no
   * `md5Hash`, and an MD5 given to check (`X-Goog-Hash: md5=`, a declared `md5Hash`) is refused with 400.
   * For benchmarks on small machines, where the server's MD5 competes with the client for CPU.
   */
  md5?: boolean;
  /** Create a bucket on first use instead of answering 404. Default false. */
  autoCreateBuckets?: boolean;
  /** Buckets to create at start: names, or `{ name, cors }` for a bucket with a CORS configuration. */
  buckets?: readonly (string | BucketOptions)[];
  /**
   * CORS (default true): buckets without a CORS configuration allow every `Origin`; a bucket's `cors`
   * rules apply as in GCS. `false` sends no CORS headers at all (bucket rules ignored), like a GCS bucket
   * without a CORS configuration: a browser client then fails with its CORS error.
   */
  cors?: boolean;
  /** Receives one line per request (upload ids shortened). Default: silent. */
  logger?: (line: string) => void;
}

/** An object as stored, for tests to check what arrived. */
export interface EmulatorObject {
  /** The bucket holding it. */
  readonly bucket: string;
  /** The object name, decoded (as the upload named it). */
  readonly name: string;
  /** Size in bytes (a number here; the JSON resource carries it as a string, like GCS). */
  readonly size: number;
  /** Base64 of the big-endian CRC32C. */
  readonly crc32c: string;
  /** Base64 of the MD5; undefined when the emulator runs with `md5: false`. */
  readonly md5Hash: string | undefined;
  /** The generation (a decimal string, like GCS's); a new one per committed upload. */
  readonly generation: string;
  /** The metageneration (a decimal string; "1" for a freshly written object). */
  readonly metageneration: string;
  /** The content type the upload declared (`application/octet-stream` when none). */
  readonly contentType: string;
  /** Custom metadata given at upload start. */
  readonly metadata: Readonly<Record<string, string>>;
  /** When the object was committed (RFC 3339, from the emulator's clock). */
  readonly timeCreated: string;
  /** The `storage#object` resource exactly as the JSON API returns it. */
  readonly resource: Readonly<Record<string, unknown>>;
  /** The bytes (memory storage); absent with `storage: "discard"`. */
  readonly data?: Uint8Array;
  /** The predefined ACL the upload asked for (`predefinedAcl`, `x-goog-acl`), if any; recorded, not enforced. */
  readonly predefinedAcl?: string;
}

/** An XML API multipart upload in progress, for tests that check what parts the server holds. */
export interface EmulatorMultipartUpload {
  /** The multipart upload id the initiate request answered. */
  readonly uploadId: string;
  /** The bucket it will complete into. */
  readonly bucket: string;
  /** The object name it will complete as. */
  readonly name: string;
  /** Uploaded parts by ascending part number. */
  readonly parts: readonly { readonly partNumber: number; readonly size: number; readonly etag: string; readonly crc32c: string }[];
}

/** The state of an upload session, for tests that check what the server persisted. */
export interface EmulatorUploadSession {
  /** The bucket the session writes into. */
  readonly bucket: string;
  /** The object name the session was started for. */
  readonly name: string;
  /** Bytes persisted (the object's size once final). */
  readonly persisted: number;
  /** `open` while bytes may still come; `final` once the object is committed. */
  readonly state: "open" | "final";
}

/** A bucket to create: its name and, optionally, its CORS configuration (GCS's bucket `cors` field). */
export interface BucketOptions {
  /** The bucket name (GCS naming rules). */
  readonly name: string;
  /** CORS rules; without them the emulator-wide policy applies (every Origin allowed unless `cors: false`). */
  readonly cors?: readonly CorsRule[];
}

/** Registration options of {@link Emulator.registerFaults}. */
export interface RegisterFaultsOptions {
  /** Use this id instead of a random one. */
  id?: string;
}

/** Retry-test helpers (the same registry `POST /retry_test` writes to). */
export interface RetryTestsApi {
  /** Registers instructions per method (e.g. `{"storage.objects.insert": ["return-503"]}`); returns the id for `x-retry-test-id`. Throws on an unknown instruction. */
  registerFaults(instructions: Readonly<Record<string, readonly string[]>>, options?: RegisterFaultsOptions): string;
  /** What is left and what was consumed, or undefined for an unknown id. */
  getRetryTest(id: string): RetryTest | undefined;
  /** Forgets a retry test; false when there was none. */
  deleteRetryTest(id: string): boolean;
}

/** A running emulator. */
export interface Emulator extends RetryTestsApi {
  /** `http://host:port`, to use as `STORAGE_EMULATOR_HOST` / api endpoint. */
  readonly url: string;
  /** The address it listens on (a loopback address unless told otherwise). */
  readonly host: string;
  /** The port it listens on (the one the OS picked for `port: 0`). */
  readonly port: number;
  /** The retry-test helpers, also available directly on the emulator. */
  readonly retryTests: RetryTestsApi;
  /** Creates a bucket (idempotent: an existing one keeps its settings). Throws for an invalid name or CORS configuration. */
  createBucket(name: string, options?: Omit<BucketOptions, "name">): void;
  /** Sets (or with undefined, removes) a bucket's CORS configuration. Throws for an unknown bucket or invalid rules. */
  setBucketCors(name: string, cors: readonly CorsRule[] | undefined): void;
  /** The live object, or undefined. */
  getObject(bucket: string, name: string): EmulatorObject | undefined;
  /** Live objects of a bucket, by name (empty for an unknown bucket). */
  listObjects(bucket: string): EmulatorObject[];
  /** The session behind a session URI or upload id, or undefined (unknown, cancelled, expired). */
  getUploadSession(sessionUriOrUploadId: string): EmulatorUploadSession | undefined;
  /** An XML API multipart upload in progress, or undefined (unknown, completed, aborted). */
  getMultipartUpload(uploadId: string): EmulatorMultipartUpload | undefined;
  /** The multipart uploads in progress (of one bucket, or all): after an abort, an upload's parts must be gone. */
  listMultipartUploads(bucket?: string): EmulatorMultipartUpload[];
  /** Stops: closes the listener, destroys open sockets, aborts pending timers. Idempotent. */
  stop(): Promise<void>;
  /** The same as {@link Emulator.stop}, so `await using gcs = await startEmulator()` stops it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** The default session lifetime: a week, as GCS. */
export const DEFAULT_SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** Starts an emulator and resolves once it listens. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const host = options.host ?? "127.0.0.1";
  const latencyMs = options.latencyMs ?? 0;
  const sessionTtlMs = options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
  if (!(latencyMs >= 0) || !(sessionTtlMs > 0)) throw new RangeError("latencyMs must be >= 0 and sessionTtlMs > 0.");
  const storage = options.storage ?? "memory";
  if (storage !== "memory" && storage !== "discard") throw new RangeError(`Unknown storage "${String(storage)}".`);
  const state = new EmulatorState({
    storage,
    sessionTtlMs,
    autoCreateBuckets: options.autoCreateBuckets ?? false,
    md5: options.md5 ?? true,
    cors: options.cors ?? true,
    now: options.now ?? Date.now,
  });
  for (const bucket of options.buckets ?? []) {
    if (typeof bucket === "string") createBucket(state, bucket);
    else createBucket(state, bucket.name, bucket.cors);
  }

  const abort = new AbortController();
  const sockets = new Set<Socket>();
  const log = options.logger ?? ((): void => undefined);
  let fallbackBaseUrl = "";
  const server: Server = createServer({ keepAlive: true }, (req, res) => {
    const ex = new Exchange(req, res, { latencyMs, signal: abort.signal, fallbackBaseUrl, log });
    // Node detaches the socket from a request once its response is done (req.socket is then null),
    // so a late failure may find nothing left to destroy.
    const dropConnection = (): void => {
      req.socket?.destroy();
    };
    route(ex, state).catch((error: unknown) => {
      if (isAbort(error)) {
        dropConnection();
        return;
      }
      log(`internal error: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      if (!res.headersSent && !ex.answered) {
        void ex.error(500, "internalError", "Emulator internal error.").catch(dropConnection);
      } else dropConnection();
    });
  });
  // Multi-GiB single requests and long-lived keep-alive sockets are normal here.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("clientError", (_error, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  fallbackBaseUrl = url;

  let stopping: Promise<void> | undefined;
  const retryTests: RetryTestsApi = {
    registerFaults: (instructions, registerOptions) => state.retryTests.register(instructions, registerOptions?.id).id,
    getRetryTest: (id) => state.retryTests.get(id),
    deleteRetryTest: (id) => state.retryTests.delete(id),
  };
  return {
    url,
    host,
    port,
    retryTests,
    ...retryTests,
    createBucket: (name, bucketOptions) => createBucket(state, name, bucketOptions?.cors),
    setBucketCors: (name, cors) => {
      const bucket = state.buckets.get(name);
      if (!bucket) throw new RangeError(`No bucket "${name}".`);
      const problem = cors === undefined ? undefined : corsProblem(cors);
      if (problem) throw new RangeError(problem);
      bucket.cors = cors;
    },
    getObject: (bucket, name) => {
      const object = state.object(bucket, name);
      return object ? publicObject(object, url) : undefined;
    },
    listObjects: (bucket) =>
      [...(state.buckets.get(bucket)?.objects.values() ?? [])]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((object) => publicObject(object, url)),
    getUploadSession: (sessionUriOrUploadId) => {
      const id = /[?&]upload_id=([^&]+)/.exec(sessionUriOrUploadId)?.[1] ?? sessionUriOrUploadId;
      const lookup = state.session(decodeURIComponent(id));
      if (!lookup.found) return undefined;
      const { bucket, name, data, object, state: sessionState } = lookup.session;
      return { bucket, name, persisted: object?.size ?? data.size, state: sessionState };
    },
    getMultipartUpload: (uploadId) => {
      const upload = state.multipartUploads.get(uploadId);
      return upload ? multipartView(upload) : undefined;
    },
    listMultipartUploads: (bucket) =>
      [...state.multipartUploads.values()].filter((upload) => bucket === undefined || upload.bucket === bucket).map(multipartView),
    stop,
    [Symbol.asyncDispose]: stop,
  };

  function stop(): Promise<void> {
    stopping ??= new Promise<void>((resolve) => {
      abort.abort();
      server.close(() => resolve());
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
    });
    return stopping;
  }
}

function createBucket(state: EmulatorState, name: string, cors?: readonly CorsRule[]): void {
  const problem = bucketNameProblem(name) ?? (cors === undefined ? undefined : corsProblem(cors));
  if (problem) throw new RangeError(problem);
  state.createBucket(name, cors);
}

function publicObject(object: StoredObject, url: string): EmulatorObject {
  const view: EmulatorObject = {
    bucket: object.bucket,
    name: object.name,
    size: object.size,
    crc32c: object.crc32c,
    md5Hash: object.md5Hash,
    generation: object.generation,
    metageneration: object.metageneration,
    contentType: object.contentType,
    metadata: { ...object.meta.metadata },
    timeCreated: object.timeCreated,
    resource: objectResource(object, url),
    ...(object.meta.predefinedAcl === undefined ? {} : { predefinedAcl: object.meta.predefinedAcl }),
  };
  if (!object.chunks) return view;
  const bytes = Buffer.concat(object.chunks);
  return { ...view, data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length) };
}

function multipartView(upload: MultipartUpload): EmulatorMultipartUpload {
  const parts = [...upload.parts.values()]
    .sort((a, b) => a.partNumber - b.partNumber)
    .map((part) => ({ partNumber: part.partNumber, size: part.size, etag: part.etag, crc32c: crc32cToBase64(part.crc) }));
  return { uploadId: upload.uploadId, bucket: upload.bucket, name: upload.name, parts };
}
