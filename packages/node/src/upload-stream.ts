import { Writable } from "node:stream";
import { createHash, randomInt } from "node:crypto";
import {
  UploadDriver,
  UploadError,
  UploadMachine,
  type Checkpoint,
  type JsonApiTarget,
  type ObjectResource,
  type AuthHeaderSource,
  type Transport,
  type TransportRequest,
  type UploadEvent,
  type UploadOptions,
} from "@resumable-gcs/core";
import { GoogleAuth } from "google-auth-library";
import type { CheckpointStore } from "./checkpoint-store.js";
import { nodeChecksums } from "./checksums.js";
import { resolveEndpoint, type EndpointOptions, type ResolvedEndpoint } from "./endpoint.js";
import { createGaxiosTransport } from "./gaxios-transport.js";
import { createHttpTransport } from "./http-transport.js";
import { nodeClock } from "./node-clock.js";
import { USER_AGENT } from "./user-agent.js";

/** The Writable's default buffer: small, because core itself holds a chunk ahead. */
const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;

/** The OAuth scope an upload needs. */
export const STORAGE_SCOPE = "https://www.googleapis.com/auth/devstorage.read_write";

/** Options for {@link createUploadStream}. Everything core takes, plus how Node reaches GCS. */
export interface NodeUploadOptions extends EndpointOptions {
  /** Bucket and object for a JSON API upload. Omit when `sessionUri` or `signedUrl` is given. */
  bucket?: string;
  /** Object name for a JSON API upload. */
  name?: string;
  /** Continue a session URI created elsewhere (e.g. by a server for this client). */
  sessionUri?: string;
  /** Start through a V4 signed URL (`x-goog-resumable: start`) instead of the JSON API. */
  signedUrl?: string;
  /**
   * For a JSON API upload: the object resource fields and preconditions sent at session start
   * (`metadata: { contentType, metadata: {k: v} }`, `ifGenerationMatch`, ...). They live on core's
   * target, not in `upload`, because they describe the object rather than the transfer.
   */
  object?: Omit<JsonApiTarget, "kind" | "bucket" | "name" | "endpoint">;
  /** Start options core understands (chunkSize, totalSize, retry, extraHeaders, ...). */
  upload?: Partial<Omit<UploadOptions, "target" | "checksums" | "checksum" | "random" | "encryptionKey">>;
  /**
   * A customer-supplied AES-256 key (32 raw bytes, or their base64). Its headers go on every request;
   * the same key is needed to read the object.
   */
  encryptionKey?: Uint8Array | string;
  /**
   * Credentials: a google-auth-library `GoogleAuth` or `AuthClient` (anything with
   * `getRequestHeaders`), or `false` for none. By default Application Default Credentials, except
   * against a plain-http emulator, where no credentials are sent.
   */
  auth?: AuthHeaderSource | false;
  /** Key file for the default `GoogleAuth` (ignored when `auth` is given). */
  keyFilename?: string;
  /** Explicit credentials for the default `GoogleAuth` (ignored when `auth` is given). */
  credentials?: Record<string, unknown>;
  /** Which HTTP stack carries the requests: gaxios (default), raw node:http, or your own Transport. */
  transport?: "gaxios" | "http" | Transport;
  /** Checksums sent on finalize and checked against the object: CRC32C by default. */
  checksum?: "crc32c" | "md5" | "both" | "none";
  /** A checkpoint to resume from (from a `session` event or a store). The source must start at `resumeOffset`. */
  checkpoint?: unknown;
  /** Where to keep checkpoints as the upload goes; nothing is written anywhere unless this is given. */
  checkpointStore?: CheckpointStore;
  /** Aborts the upload when it fires. */
  signal?: AbortSignal;
  /**
   * What an abort (signal, `destroy()`, a source error) does to the session: `"cancel"` deletes it
   * (default: nothing is left behind), `"keep"` leaves it resumable and saves the checkpoint.
   */
  onAbort?: "cancel" | "keep";
  /** Bytes the Writable buffers before `write()` returns false; 1 MiB (or the chunk size if smaller) by default. */
  highWaterMark?: number;
}

/** Progress as the upload goes. `bytesPersisted` never decreases. */
export interface UploadProgress {
  /** Highest stream offset handed to the transport. */
  bytesSent: number;
  /** Bytes GCS has confirmed. */
  bytesPersisted: number;
}

/** Payload of the `retry` event. */
export interface UploadRetry {
  /** Attempt number at this offset, from 1. */
  attempt: number;
  /** How long the upload waits before asking GCS where it stands. */
  delayMs: number;
  /** What went wrong. */
  error: UploadError;
}

function invalid(message: string): UploadError {
  return new UploadError("invalid-argument", message);
}

function buildTransport(options: NodeUploadOptions, sendAuth: boolean): Transport {
  if (typeof options.transport === "object") return options.transport;
  let auth: AuthHeaderSource | undefined;
  if (options.auth === false || !sendAuth) auth = undefined;
  else if (options.auth !== undefined) auth = options.auth;
  else {
    auth = new GoogleAuth({
      scopes: [STORAGE_SCOPE],
      ...(options.keyFilename === undefined ? {} : { keyFilename: options.keyFilename }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      ...(options.universeDomain === undefined ? {} : { universeDomain: options.universeDomain }),
    });
  }
  const common = { auth, userAgent: USER_AGENT };
  return options.transport === "http" ? createHttpTransport(common) : createGaxiosTransport(common);
}

function checksumProvider(choice: NodeUploadOptions["checksum"]) {
  switch (choice ?? "crc32c") {
    case "crc32c":
      return { checksums: { crc32c: nodeChecksums.crc32c }, checksum: "crc32c" as const };
    case "md5":
      return { checksums: { md5: nodeChecksums.md5 }, checksum: "md5" as const };
    case "both":
      return { checksums: nodeChecksums, checksum: "both" as const };
    case "none":
      return { checksums: {}, checksum: "none" as const };
    default:
      throw invalid(`checksum must be crc32c, md5, both or none, got ${JSON.stringify(choice)}`);
  }
}

/** Core wants the key and its SHA-256 in base64 (it has no crypto); Node computes the hash. */
function csek(key: Uint8Array | string): { key: string; sha256: string } {
  const raw = typeof key === "string" ? Buffer.from(key, "base64") : Buffer.from(key);
  if (raw.length !== 32) throw invalid(`encryptionKey must be 32 bytes (AES-256), got ${raw.length}`);
  return { key: raw.toString("base64"), sha256: createHash("sha256").update(raw).digest("base64") };
}

/** Core's options from the Node options; throws core's typed errors for bad input, before any I/O. */
function machineFor(options: NodeUploadOptions, endpoint: ResolvedEndpoint): UploadMachine {
  const { checksums, checksum } = checksumProvider(options.checksum);
  let target: UploadOptions["target"];
  const targets = [options.sessionUri, options.signedUrl, options.bucket ?? options.name].filter((t) => t !== undefined);
  if (targets.length !== 1) throw invalid("give exactly one of { bucket, name }, sessionUri or signedUrl");
  if (options.sessionUri !== undefined) target = { kind: "session", sessionUri: options.sessionUri };
  else if (options.signedUrl !== undefined) target = { kind: "signed-url", url: options.signedUrl };
  else {
    if (options.bucket === undefined || options.name === undefined) throw invalid("a JSON API upload needs both bucket and name");
    target = { ...options.object, kind: "json", bucket: options.bucket, name: options.name, endpoint: endpoint.url };
  }
  const random = (): number => randomInt(0, 2 ** 32) / 2 ** 32;
  const encryptionKey = options.encryptionKey === undefined ? undefined : csek(options.encryptionKey);
  const machineOptions: UploadOptions = {
    ...options.upload,
    target,
    checksums,
    checksum,
    random,
    ...(encryptionKey === undefined ? {} : { encryptionKey }),
  };
  return options.checkpoint === undefined
    ? new UploadMachine(machineOptions)
    : UploadMachine.restore(options.checkpoint, machineOptions);
}

/**
 * A Writable that streams everything written to it into one GCS object over the resumable-upload
 * protocol. `finish` fires only once the object is final and verified; `stream.object` then holds the
 * object resource. Memory stays within about two chunks plus `highWaterMark`, whatever the size.
 *
 * Events: `session` (a checkpoint: save it to resume after a crash), `progress` ({@link UploadProgress}),
 * `retry` ({@link UploadRetry}), and the usual Writable events.
 *
 * @example
 * ```ts
 * await pipeline(createReadStream("backup.tar"), createUploadStream({ bucket: "my-bucket", name: "backup.tar" }));
 * ```
 */
export class UploadStream extends Writable {
  /** Resolves with the final object resource, or rejects with the {@link UploadError} that ended the upload. */
  readonly done: Promise<ObjectResource>;
  /** The final object resource, once `finish` has fired. */
  object: ObjectResource | undefined;
  /** The stream offset the source must start from (0 unless resuming from a checkpoint). */
  readonly resumeOffset: number;

  readonly #machine: UploadMachine;
  readonly #driver: UploadDriver;
  readonly #store: CheckpointStore | undefined;
  readonly #onAbort: "cancel" | "keep";
  readonly #signal: AbortSignal | undefined;
  readonly #abortListener: (() => void) | undefined;
  #saving: Promise<void> = Promise.resolve();
  #pendingSave: Checkpoint | undefined;
  #lastQueuedPersisted = -1;

  constructor(options: NodeUploadOptions) {
    const endpoint = resolveEndpoint(options);
    const machine = machineFor(options, endpoint);
    // Core already buffers a whole chunk ahead of the one in flight, so a chunk-sized Writable buffer
    // would only add a third chunk of memory without adding overlap: keep it small by default.
    super({ highWaterMark: options.highWaterMark ?? Math.min(machine.chunkSize, DEFAULT_HIGH_WATER_MARK), decodeStrings: false, objectMode: false });
    this.#machine = machine;
    this.resumeOffset = machine.resumeOffset;
    this.#store = options.checkpointStore;
    this.#onAbort = options.onAbort ?? "cancel";
    const transport = buildTransport(options, endpoint.sendAuth);
    const endpointOrigin = new URL(endpoint.url).origin;
    this.#driver = new UploadDriver({
      machine,
      transport,
      clock: nodeClock,
      onEvent: (event) => this.#onEvent(event),
      // Credentials only to the endpoint's own origin, and only where the endpoint allows them.
      credentialsFor: (request: TransportRequest) => endpoint.sendAuth && options.signedUrl === undefined && new URL(request.url).origin === endpointOrigin,
    });
    this.done = this.#driver.done;
    // A transport built here is closed when the upload ends (its agents hold sockets); one the caller
    // passed in stays theirs.
    if (typeof options.transport !== "object") {
      const close = (): void => void transport.close?.();
      this.done.then(close, close);
    }
    // `done` may never be awaited (stream users listen to events instead): never an unhandled rejection.
    this.done.catch(() => undefined);
    this.#signal = options.signal;
    if (options.signal !== undefined) {
      const signal = options.signal;
      this.#abortListener = () => this.destroy(new UploadError("aborted", "upload aborted by its signal", { cause: signal.reason }));
      if (signal.aborted) queueMicrotask(this.#abortListener);
      else signal.addEventListener("abort", this.#abortListener, { once: true });
    }
  }

  /** The latest checkpoint (JSON-serialisable), or `undefined` before a session exists. */
  checkpoint(): Checkpoint | undefined {
    return this.#machine.checkpoint();
  }

  /** Bytes held in memory for this upload: written but not yet confirmed by GCS. */
  get bytesBuffered(): number {
    return this.#machine.bytesBuffered;
  }

  /** Bytes sent and persisted so far. */
  get progress(): UploadProgress {
    return { bytesSent: this.#machine.bytesSent, bytesPersisted: this.#machine.bytesPersisted };
  }

  override write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    // Strings, numbers and objects are refused with core's typed error before anything is queued:
    // a text upload must choose its own encoding, and nothing is silently converted or dropped.
    if (!(chunk instanceof Uint8Array)) {
      return this.#refuse(invalid(`write() takes bytes (Buffer or Uint8Array), got ${chunk === null ? "null" : typeof chunk}`), encoding, callback);
    }
    if (this.writableEnded) {
      return this.#refuse(new UploadError("usage", "write() after end(): the upload's length was already decided"), encoding, callback);
    }
    return super.write(chunk, encoding as BufferEncoding, callback as (e?: Error | null) => void);
  }

  /** Ends the upload with `error` (nothing half-sent is committed) and reports it to the write's callback. */
  #refuse(error: UploadError, encoding: unknown, callback: unknown): false {
    const cb = typeof encoding === "function" ? encoding : callback;
    this.destroy(error);
    if (typeof cb === "function") process.nextTick(cb, error);
    return false;
  }

  override _write(chunk: Uint8Array, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#driver.write(chunk).then(() => callback(), callback);
  }

  override _writev(chunks: { chunk: Uint8Array }[], callback: (error?: Error | null) => void): void {
    const writes = chunks.map(({ chunk }) => this.#driver.write(chunk));
    Promise.all(writes).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#driver.end().then(
      async (object) => {
        this.object = object;
        await this.#flushSaves();
        await this.#store?.clear();
        callback();
      },
      (error: Error) => callback(error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#signal !== undefined && this.#abortListener !== undefined) this.#signal.removeEventListener("abort", this.#abortListener);
    if (this.#machine.isFinished) {
      callback(error);
      return;
    }
    const reason = error ?? new UploadError("aborted", "upload stream destroyed before the object was final");
    if (this.#onAbort === "cancel") {
      this.#driver
        .cancel()
        .then(() => this.#store?.clear())
        .then(
          () => callback(error),
          () => callback(error),
        );
    } else {
      this.#driver.abort(reason);
      const checkpoint = this.#machine.checkpoint();
      if (checkpoint !== undefined) this.#queueSave(checkpoint);
      this.#flushSaves().then(
        () => callback(error),
        (saveError: Error) => callback(error ?? saveError),
      );
    }
  }

  #onEvent(event: UploadEvent): void {
    switch (event.type) {
      case "session":
        this.#queueSave(event.checkpoint);
        this.emit("session", event.checkpoint);
        break;
      case "progress": {
        const checkpoint = this.#machine.checkpoint();
        if (checkpoint !== undefined && checkpoint.resumeOffset !== this.#lastQueuedPersisted) this.#queueSave(checkpoint);
        this.emit("progress", { bytesSent: event.bytesSent, bytesPersisted: event.bytesPersisted } satisfies UploadProgress);
        break;
      }
      case "retry":
        this.emit("retry", { attempt: event.attempt, delayMs: event.delayMs, error: event.error } satisfies UploadRetry);
        break;
      default:
        break;
    }
  }

  /**
   * Saves are serialised and coalesced: at most one save runs, and when it ends only the newest
   * checkpoint that arrived meanwhile is written. A save that fails ends the upload: the caller asked
   * for resumability, and silently losing it would be worse than stopping.
   */
  #queueSave(checkpoint: Checkpoint): void {
    const store = this.#store;
    if (store === undefined) return;
    this.#lastQueuedPersisted = checkpoint.resumeOffset;
    const alreadyQueued = this.#pendingSave !== undefined;
    this.#pendingSave = checkpoint;
    if (alreadyQueued) return;
    this.#saving = this.#saving
      .then(async () => {
        const next = this.#pendingSave;
        this.#pendingSave = undefined;
        if (next !== undefined) await store.save(next);
      })
      .catch((error: unknown) => {
        this.destroy(error instanceof Error ? error : new Error(String(error)));
      });
  }

  #flushSaves(): Promise<void> {
    return this.#saving;
  }
}

/**
 * Creates an {@link UploadStream}. Bad input (bucket or object name, chunk size, endpoint, checkpoint)
 * throws a typed {@link UploadError} here, before any request is made.
 */
export function createUploadStream(options: NodeUploadOptions): UploadStream {
  return new UploadStream(options);
}
