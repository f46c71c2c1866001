/**
 * `createUploadStream`: a WritableStream over the upload layer, so any ReadableStream can
 * `pipeTo` Google Cloud Storage with backpressure, resumability and end-to-end checksums.
 *
 * The adapter is thin by design: options, retries, checkpoints, trust rules and verification are
 * the upload layer's; this file maps WritableStream's sink (start/write/close/abort) onto the
 * layer's write/end/abort, refuses non-byte chunks, and turns a CORS refusal into an immediate,
 * clearly named failure instead of minutes of retries.
 */
import {
  type AbortOutcome,
  type AuthHeaderSource,
  type UploadCheckpoint,
  createUpload,
  type ObjectResource,
  type Transport,
  type TransportContext,
  TransportError,
  type Upload,
  type UploadEventMap,
  type UploadOptions,
  type UploadProgress,
  ValidationError,
} from "@resumable-gcs/core";
import { type LoadChecksumsOptions, loadChecksums } from "./checksums.js";
import { type CorsError, isCorsError } from "./cors.js";
import { deferredChecksums, runtimeWith } from "./web-runtime.js";

/**
 * Options of {@link createUploadStream}: the upload layer's flat option set (the same in every
 * adapter: `bucket`/`name`, `sessionUri`, `signedUrl`, `chunkSize`, `checksum`, `checkpointStore`,
 * `signal`, `onAbort`...) plus the web adapter's own.
 */
export type UploadStreamOptions = UploadOptions & {
  /**
   * The transport: `"xhr"` (the default in pages: real upload progress), `"fetch"` (the default
   * elsewhere), or any Transport (then give it its own auth).
   */
  readonly transport?: Transport | "fetch" | "xhr" | undefined;
  /**
   * Where server-side runtimes get an access token (Deno, Bun, Workers, Node): a function returning
   * one (called before each request that carries credentials; cache it yourself), or an auth header
   * source. Never put a long-lived credential in a page: use a minted session URI or a signed URL.
   */
  readonly auth?: (() => string | Promise<string>) | AuthHeaderSource | undefined;
  /**
   * Bytes the stream queues before it signals backpressure, on top of what the upload engine holds
   * (up to about one chunk). Default 1: the engine alone decides when the source is read.
   */
  readonly highWaterMark?: number | undefined;
  /** A hard limit in ms for one HTTP exchange; off by default (the engine's stall timer guards progress). */
  readonly requestTimeoutMs?: number | undefined;
  /** Which checksum implementations to try, in order (see {@link loadChecksums}). */
  readonly checksumImplementations?: LoadChecksumsOptions["prefer"];
};

/** A WritableStream into GCS, with the upload's outcome, events and checkpoint beside it. */
export interface UploadStream extends WritableStream<Uint8Array> {
  /** Resolves with the verified object once the stream has closed; rejects with the upload's error. Marked handled. */
  readonly done: Promise<ObjectResource>;
  /**
   * Resolves with what an abort did (session cancelled, kept with its checkpoint, or found
   * committed), whether it came from `abort()`, `pipeTo`'s signal or the `signal` option; pending
   * until then (an upload that ends otherwise leaves it pending).
   */
  readonly aborted: Promise<AbortOutcome>;
  /** Subscribes to a typed upload event; returns the unsubscribe function. */
  on<K extends keyof UploadEventMap>(type: K, listener: (payload: UploadEventMap[K]) => void): () => void;
  /** The latest checkpoint (save it to resume in another page, process or runtime), once a session exists. */
  checkpoint(): UploadCheckpoint | undefined;
  /** Where the source must start when resuming from a checkpoint (0 otherwise). */
  readonly resumeOffset: number;
  /** Bytes sent and persisted so far. */
  readonly progress: UploadProgress;
}

/**
 * A CORS refusal as the engine must see it: not retryable. Retrying cannot fix a bucket's CORS
 * configuration, and `auth` is the contract's one transport failure that ends an upload at once
 * (the page's origin is not authorized). Callers never see this: `done` rejects with the CorsError.
 */
function notRetryable(cors: CorsError): TransportError {
  return new TransportError("auth", cors.message, { cause: cors, code: cors.code ?? "CORS" });
}

/** The chunk as bytes (a view, never a copy), or a typed invalid-argument error. */
function bytesOf(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const kind = chunk === null ? "null" : typeof chunk === "object" ? (chunk.constructor?.name ?? "object") : typeof chunk;
  const hint = typeof chunk === "string" ? " (pipe text through a TextEncoderStream first)" : chunk instanceof ArrayBuffer ? " (wrap it: new Uint8Array(buffer))" : "";
  return invalid(`expected a Uint8Array or another ArrayBufferView, got ${kind}${hint}`);
}

function invalid(message: string): never {
  throw new ValidationError("write(chunk)", message);
}

class UploadWritableStream extends WritableStream<Uint8Array> implements UploadStream {
  readonly done: Promise<ObjectResource>;
  readonly aborted: Promise<AbortOutcome>;
  readonly #upload: Upload;

  constructor(upload: Upload, sink: UnderlyingSink<Uint8Array>, highWaterMark: number, done: Promise<ObjectResource>, aborted: Promise<AbortOutcome>) {
    // Sized by byte length like ByteLengthQueuingStrategy, but a non-byte chunk still reaches the
    // sink (counted as 1), so it is refused with a ValidationError rather than the stream's RangeError.
    super(sink, { highWaterMark, size: (chunk: unknown) => (ArrayBuffer.isView(chunk) ? chunk.byteLength : 1) });
    this.#upload = upload;
    this.done = done;
    this.aborted = aborted;
  }

  on<K extends keyof UploadEventMap>(type: K, listener: (payload: UploadEventMap[K]) => void): () => void {
    return this.#upload.on(type, listener);
  }

  checkpoint(): UploadCheckpoint | undefined {
    return this.#upload.checkpoint();
  }

  get resumeOffset(): number {
    return this.#upload.resumeOffset;
  }

  get progress(): UploadProgress {
    return this.#upload.progress;
  }
}

/**
 * Creates a WritableStream that uploads what is written to it as one GCS object.
 *
 * - Backpressure: `write()` resolves when the upload engine wants more data, so `pipeTo` reads the
 *   source only as fast as the network takes it (memory stays near one chunk).
 * - `close()` resolves only once the object is final and its size and CRC32C (and MD5) are verified.
 * - Aborting (`stream.abort(reason)`, `pipeTo(..., { signal })`, or the `signal` option) stops the
 *   request in flight and cancels the session, or keeps it resumable with `onAbort: "keep"`.
 * - Chunks must be bytes: anything else errors the stream with a ValidationError (`invalid-argument`).
 * - In a page, a CORS refusal fails at once with a {@link CorsError} naming the fix.
 *
 * Invalid options throw here, synchronously, before anything is sent.
 *
 * @example
 * ```ts
 * const { sessionUri } = await (await fetch("/api/upload-session", { method: "POST" })).json();
 * const upload = createUploadStream({ sessionUri });
 * upload.on("progress", ({ bytesPersisted }) => console.log(bytesPersisted));
 * await file.stream().pipeTo(upload);
 * console.log((await upload.done).crc32c);
 * ```
 */
export function createUploadStream(options: UploadStreamOptions): UploadStream {
  const { highWaterMark = 1, checksumImplementations, ...layerOptions } = options;
  if (!(typeof highWaterMark === "number" && Number.isFinite(highWaterMark) && highWaterMark >= 1)) throw new ValidationError("highWaterMark", `expected a number of bytes >= 1, got ${String(highWaterMark)}`);

  const loading = loadChecksums(checksumImplementations === undefined ? {} : { prefer: checksumImplementations });
  // A load failure surfaces through start(); this only keeps it from being reported twice.
  loading.catch(() => undefined);
  let corsFailure: CorsError | undefined;
  const base = runtimeWith(deferredChecksums(loading));
  const runtime = {
    ...base,
    createTransport: (context: TransportContext): Transport => {
      const transport = base.createTransport(context);
      // The layer closes a transport it did not get from the caller: only ours, never the caller's.
      const ours = transport !== options.transport;
      return {
        specificationVersion: 2,
        capabilities: transport.capabilities,
        send: (request, sendOptions) => {
          // After a CORS refusal nothing this page sends to GCS can succeed: refuse at once.
          if (corsFailure !== undefined) return Promise.reject(notRetryable(corsFailure));
          return transport.send(request, sendOptions).catch((error: unknown) => {
            if (isCorsError(error)) corsFailure ??= error;
            throw corsFailure === undefined ? error : notRetryable(corsFailure);
          });
        },
        ...(ours && transport.close !== undefined ? { close: () => transport.close!() } : {}),
      };
    },
  };
  const created = createUpload(layerOptions, runtime);

  let resolveAborted!: (outcome: AbortOutcome) => void;
  const aborted = new Promise<AbortOutcome>((resolve) => (resolveAborted = resolve));
  // The layer aborts on its own when the `signal` option fires; its abort() is idempotent, so asking
  // again hands back that same outcome.
  const signal = layerOptions.signal;
  if (signal !== undefined) {
    const onSignal = (): void => void created.abort(signal.reason).then(resolveAborted);
    if (signal.aborted) onSignal();
    else signal.addEventListener("abort", onSignal, { once: true });
  }
  let chunkError: ValidationError | undefined;
  // The stream's own verdict: a cause we know better than the layer's (its "auth" for a CORS
  // refusal, its "cancelled" after a bad chunk) wins.
  const verdict = (error: unknown): unknown => corsFailure ?? chunkError ?? error;
  const done = created.done.then(
    (object) => object,
    (error: unknown) => {
      throw verdict(error);
    },
  );
  done.catch(() => undefined);

  let controller: WritableStreamDefaultController | undefined;
  // Any failure of the upload errors the stream, so a pending write/close or pipeTo learns of it.
  done.catch((error: unknown) => controller?.error(error));

  const sink: UnderlyingSink<Uint8Array> = {
    async start(streamController) {
      controller = streamController;
      try {
        await loading;
      } catch (error) {
        // No checksum could load (even the pure-JS one): the upload cannot verify, so it ends here.
        resolveAborted(await created.abort(error));
        throw error;
      }
    },
    async write(chunk) {
      let bytes: Uint8Array;
      try {
        bytes = bytesOf(chunk);
      } catch (error) {
        chunkError = error as ValidationError;
        // The stream errors with the validation error; the session is cancelled or kept per onAbort.
        resolveAborted(await created.abort(error));
        throw error;
      }
      await created.write(bytes).catch((error: unknown) => {
        throw verdict(error);
      });
    },
    async close() {
      await created.end().catch((error: unknown) => {
        throw verdict(error);
      });
    },
    async abort(reason) {
      resolveAborted(await created.abort(reason));
    },
  };
  return new UploadWritableStream(created, sink, highWaterMark, done, aborted);
}
