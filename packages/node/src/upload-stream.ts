import { Writable, type Readable } from "node:stream";
import {
  DEFAULT_CHUNK_SIZE,
  UploadError,
  ValidationError,
  createUpload,
  uploadEventNames,
  type AuthHeaderSource,
  type ObjectResource,
  type Transport,
  type Upload,
  type UploadEventMap,
  type UploadEventName,
  type UploadOptions,
  type UploadProgress,
  type UploadCheckpoint,
  type UploadRuntime,
} from "@resumable-gcs/core";
import { nodeRuntime } from "./node-runtime.js";

/** The Writable's default buffer: small, because the engine itself holds a chunk ahead. */
const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;

/** Options for {@link createUploadStream}: core's flat option set, plus how Node reaches GCS. */
export interface NodeUploadOptions extends Omit<UploadOptions, "transport" | "auth"> {
  /** Which HTTP stack carries the requests: gaxios (default), raw node:http, or your own Transport. */
  readonly transport?: "gaxios" | "http" | Transport;
  /**
   * Credentials: a google-auth-library `GoogleAuth` or `AuthClient` (anything with
   * `getRequestHeaders`), or `false` for none. By default Application Default Credentials, loaded
   * only when a request needs them (never for an emulator over http, a signed URL or a session URI).
   */
  readonly auth?: AuthHeaderSource | false;
  /** Key file for the default credentials (ignored when `auth` is given). */
  readonly keyFilename?: string;
  /** Explicit credentials (a parsed key file) for the default credentials (ignored when `auth` is given). */
  readonly credentials?: Record<string, unknown>;
  /** Bytes the Writable buffers before `write()` returns false: 1 MiB (or the chunk size if smaller) by default. */
  readonly highWaterMark?: number;
}

/** The callback of `write()`, as Node types it. */
export type WriteCallback = (error: Error | null | undefined) => void;

/**
 * A listener of any other event: the same shape Node's own Writable typings use, so listeners
 * typed for custom events keep compiling.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- mirrors Node's EventEmitter typings on purpose
export type AnyListener = (...args: any[]) => void;

function isBytes(chunk: unknown): chunk is string | Uint8Array {
  return typeof chunk === "string" || chunk instanceof Uint8Array;
}

/**
 * A Writable that streams everything written to it into one GCS object, over the upload layer of
 * `@resumable-gcs/core`. `finish` fires only once the object is final and verified; `object` then
 * holds it. Strings are accepted with their encoding, as by every Node Writable. Memory stays within
 * about two chunks plus `highWaterMark`, whatever the size.
 *
 * Events (typed): `session`, `progress`, `retry`, `checkpoint-saved`, `resumed`, plus the Writable's own.
 *
 * @example
 * ```ts
 * await pipeline(createReadStream("backup.tar"), createUploadStream({ bucket: "my-bucket", name: "backup.tar" }));
 * ```
 */
export class UploadStream extends Writable {
  /** Resolves with the final object resource, or rejects with the {@link UploadError} that ended the upload. */
  readonly done: Promise<ObjectResource>;
  /** The final object resource, once `finish` has fired (or the object turned out committed on destroy). */
  object: ObjectResource | undefined;
  /** The stream offset the source must start from (0 unless resuming from a checkpoint). */
  readonly resumeOffset: number;
  readonly #upload: Upload;

  /**
   * @param options - the flat options.
   * @param runtime - Node by default; pass a variant (another `env`, a test clock) to change one service.
   * @throws UploadError for bad input (a {@link ValidationError} naming the option), before any request.
   */
  constructor(options: NodeUploadOptions, runtime: UploadRuntime = nodeRuntime) {
    const highWaterMark = options?.highWaterMark;
    if (highWaterMark !== undefined && !(Number.isSafeInteger(highWaterMark) && highWaterMark >= 0)) {
      throw new ValidationError("highWaterMark", `expected a non-negative integer, came ${String(highWaterMark)}`);
    }
    const upload = createUpload(options, runtime);
    // The engine already buffers a chunk ahead of the one in flight, so a chunk-sized Writable buffer
    // would only add a third chunk of memory without adding overlap: keep it small by default.
    super({ highWaterMark: highWaterMark ?? Math.min(options.chunkSize ?? DEFAULT_CHUNK_SIZE, DEFAULT_HIGH_WATER_MARK) });
    this.#upload = upload;
    this.done = upload.done;
    this.resumeOffset = upload.resumeOffset;
    for (const name of uploadEventNames) upload.on(name, (payload) => this.emit(name, payload));
    // As with any Node stream given a signal, aborting it destroys the stream (a pipeline rejects);
    // _destroy then applies onAbort through the upload (which also watches the signal: one abort).
    const signal = options.signal;
    if (signal !== undefined) {
      const onAbort = (): void => {
        if (!this.destroyed) this.destroy(new UploadError("aborted", "upload aborted by its signal", { cause: signal.reason }));
      };
      if (signal.aborted) process.nextTick(onAbort);
      else {
        signal.addEventListener("abort", onAbort, { once: true });
        const off = (): void => signal.removeEventListener("abort", onAbort);
        upload.done.then(off, off);
      }
    }
    // The upload can end on its own (a failure, its signal): the stream ends with it.
    upload.done.then(
      () => undefined,
      (error: Error) => {
        if (!this.destroyed) this.destroy(error);
      },
    );
  }

  /** The latest checkpoint (JSON-serialisable; `kind: "xml-multipart"` with `parallelism`), or `undefined` before a session exists. */
  checkpoint(): UploadCheckpoint | undefined {
    return this.#upload.checkpoint();
  }

  /** Bytes held in memory for this upload: written but not yet confirmed by GCS. */
  get bytesBuffered(): number {
    return this.#upload.bytesBuffered;
  }

  /** Bytes sent and persisted so far, and the total once known. */
  get progress(): UploadProgress {
    return this.#upload.progress;
  }

  /** Writes bytes (Buffer, Uint8Array) or a utf8 string; `false` asks the caller to wait for `drain`. */
  override write(chunk: unknown, callback?: WriteCallback): boolean;
  /** Writes a string in `encoding` (or bytes, ignoring it); `false` asks the caller to wait for `drain`. */
  override write(chunk: unknown, encoding: BufferEncoding, callback?: WriteCallback): boolean;
  /** Implementation of the overloads above. */
  override write(chunk: unknown, encoding?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean {
    const problem = this.#refusal(chunk);
    if (problem !== undefined) return this.#refuse(problem, typeof encoding === "function" ? encoding : callback);
    return typeof encoding === "function" ? super.write(chunk, encoding) : super.write(chunk, encoding ?? "utf8", callback);
  }

  /** Ends the upload; `finish` follows once the object is final and verified. */
  override end(callback?: () => void): this;
  /** Ends the upload with a last chunk (which passes the same checks as `write`). */
  override end(chunk: unknown, callback?: () => void): this;
  /** Ends the upload with a last string in `encoding` (which passes the same checks as `write`). */
  override end(chunk: unknown, encoding: BufferEncoding, callback?: () => void): this;
  /** Implementation of the overloads above. */
  override end(chunk?: unknown, encoding?: BufferEncoding | (() => void), callback?: () => void): this {
    if (typeof chunk === "function") return super.end(chunk as () => void);
    if (chunk !== undefined && chunk !== null) {
      const problem = this.#refusal(chunk);
      if (problem !== undefined) {
        this.#refuse(problem, undefined);
        return this;
      }
    }
    if (chunk === undefined || chunk === null) return super.end(typeof encoding === "function" ? encoding : callback);
    return typeof encoding === "function" ? super.end(chunk, encoding) : super.end(chunk, encoding ?? "utf8", callback);
  }

  /** Adds a listener; the upload's events and the Writable's are typed. */
  override on<K extends UploadEventName>(event: K, listener: (payload: UploadEventMap[K]) => void): this;
  override on(event: "close" | "drain" | "finish", listener: () => void): this;
  override on(event: "error", listener: (error: Error) => void): this;
  override on(event: "pipe" | "unpipe", listener: (source: Readable) => void): this;
  override on(event: string | symbol, listener: AnyListener): this;
  override on(event: string | symbol, listener: AnyListener): this {
    return super.on(event, listener);
  }

  /** Adds a one-time listener; typed like {@link UploadStream.on}. */
  override once<K extends UploadEventName>(event: K, listener: (payload: UploadEventMap[K]) => void): this;
  override once(event: "close" | "drain" | "finish", listener: () => void): this;
  override once(event: "error", listener: (error: Error) => void): this;
  override once(event: "pipe" | "unpipe", listener: (source: Readable) => void): this;
  override once(event: string | symbol, listener: AnyListener): this;
  override once(event: string | symbol, listener: AnyListener): this {
    return super.once(event, listener);
  }

  /** Removes a listener; typed like {@link UploadStream.on}. */
  override off<K extends UploadEventName>(event: K, listener: (payload: UploadEventMap[K]) => void): this;
  override off(event: string | symbol, listener: AnyListener): this;
  override off(event: string | symbol, listener: AnyListener): this {
    return super.off(event, listener);
  }

  override _write(chunk: Uint8Array, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#upload.write(chunk).then(() => callback(), callback);
  }

  override _writev(chunks: { chunk: Uint8Array }[], callback: (error?: Error | null) => void): void {
    Promise.all(chunks.map(({ chunk }) => this.#upload.write(chunk))).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#upload.end().then((object) => {
      this.object = object;
      callback();
    }, callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Aborting applies onAbort (cancel or keep); an upload already over answers at once.
    this.#upload.abort(error ?? new UploadError("aborted", "upload stream destroyed before the object was final")).then((outcome) => {
      if (outcome.outcome === "committed") this.object = outcome.object;
      callback(error);
    }, callback);
  }

  /** Why `chunk` cannot be written, if it cannot (before anything is queued). */
  #refusal(chunk: unknown): UploadError | undefined {
    if (!isBytes(chunk)) return new ValidationError("write(chunk)", `expected bytes (Buffer, Uint8Array) or a string, came ${chunk === null ? "null" : typeof chunk}`);
    if (this.writableEnded) return new UploadError("usage", "write() after end(): the upload's length was already decided");
    return undefined;
  }

  /** Ends the upload with `error` (nothing half-sent is committed) and reports it to the write's callback. */
  #refuse(error: UploadError, callback: WriteCallback | undefined): false {
    this.destroy(error);
    if (callback !== undefined) process.nextTick(callback, error);
    return false;
  }
}

/**
 * Creates an {@link UploadStream}. Bad input (bucket or object name, chunk size, endpoint, checkpoint,
 * an unknown option) throws a typed {@link UploadError} here, before any request is made.
 */
export function createUploadStream(options: NodeUploadOptions, runtime: UploadRuntime = nodeRuntime): UploadStream {
  return new UploadStream(options, runtime);
}
