/**
 * `upload(source, options)`: the whole upload in one promise.
 *
 * Rules:
 * - Everything about the upload (options, target, checksums, checkpoint store, abort policy, trust
 *   rules, events) is the upload layer's (`createUpload` in @resumable-gcs/core); this file only
 *   connects a byte source to it: the runtime to use, the callbacks, and the pump.
 * - The runtime is the caller's when given (`runtime: nodeRuntime` from @resumable-gcs/node for
 *   Node's authenticated transport), else the web runtime (global fetch, a token provider as `auth`).
 *   So this package never loads google-auth-library unless the caller brings the Node runtime.
 * - The source is checked and its first chunk read before the session starts: a source that is not
 *   bytes, or fails at once, costs no request. This adapter's own options are checked before the
 *   source is touched; the layer's when the upload is created, right after that first read (a bad
 *   option costs one pulled chunk, and the source is closed; nothing is sent).
 */
import { UploadError, ValidationError, createUpload, type ObjectResource, type Upload, type UploadEventMap, type UploadOptions, type UploadRuntime } from "@resumable-gcs/core";
import { loadWebRuntime } from "@resumable-gcs/web";
import { pump, reasonText, sourceFailure } from "./pump.js";
import { openSource, type ByteSource } from "./source.js";

/** The options of {@link upload}: the flat upload options every adapter shares, plus a few of its own. */
export interface IterUploadOptions extends UploadOptions {
  /**
   * Where the upload runs. Default: the web runtime (global `fetch`; pass a token provider as `auth`
   * for credentials). For Node's authenticated transport (ADC, key files, google-auth-library
   * clients) pass `runtime: nodeRuntime` from `@resumable-gcs/node`.
   */
  readonly runtime?: UploadRuntime;
  /**
   * Bytes the source may be read ahead of what the upload has accepted, so a slow producer overlaps
   * with the network. Default 0: a chunk is pulled only when the upload wants data. Memory held is
   * at most the upload's own (about two chunks) plus one source chunk plus this.
   */
  readonly readAhead?: number;
  /** Called once the session exists, with a checkpoint to save if the upload may be resumed later. */
  readonly onSession?: (event: UploadEventMap["session"]) => void;
  /** Called as bytes are sent and persisted. */
  readonly onProgress?: (progress: UploadEventMap["progress"]) => void;
  /** Called before each retry, with the failure that caused it and the delay. */
  readonly onRetry?: (retry: UploadEventMap["retry"]) => void;
  /** Called each time the `checkpointStore` has saved a checkpoint. */
  readonly onCheckpointSaved?: (event: UploadEventMap["checkpoint-saved"]) => void;
  /** Called when a resumed upload learned where the server stands. */
  readonly onResumed?: (event: UploadEventMap["resumed"]) => void;
}

const callbackNames = ["onSession", "onProgress", "onRetry", "onCheckpointSaved", "onResumed"] as const;

/** The option names this adapter reads itself; everything else goes to the upload layer. */
const ownOptions: ReadonlySet<string> = new Set(["runtime", "readAhead", ...callbackNames]);

function checkOwnOptions(options: IterUploadOptions): { readonly runtime: UploadRuntime | undefined; readonly readAhead: number } {
  for (const name of callbackNames) {
    const value: unknown = options[name];
    if (value !== undefined && typeof value !== "function") throw new ValidationError(name, `expected a function, came ${typeof value}`);
  }
  const readAhead = options.readAhead ?? 0;
  if (typeof readAhead !== "number" || !Number.isSafeInteger(readAhead) || readAhead < 0) {
    throw new ValidationError("readAhead", `expected a non-negative integer number of bytes, came ${JSON.stringify(readAhead)}`);
  }
  const runtime = options.runtime;
  if (runtime !== undefined && (typeof runtime !== "object" || runtime === null || typeof runtime.createTransport !== "function")) {
    throw new ValidationError("runtime", "expected an UploadRuntime (e.g. nodeRuntime from @resumable-gcs/node, webRuntime() from @resumable-gcs/web)");
  }
  return { runtime, readAhead };
}

/** The options without this adapter's own, as the upload layer takes them. */
function layerOptions(options: IterUploadOptions): UploadOptions {
  const rest: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(options)) if (!ownOptions.has(name)) rest[name] = value;
  return rest;
}

/**
 * Uploads every byte `source` yields into one object and resolves with the verified object
 * resource.
 *
 * Rejects with an {@link UploadError}: the upload's own failure (switch on `code`); a
 * `ValidationError` (`invalid-argument`) for bad options or a chunk that is not a `Uint8Array`; or,
 * when the source throws, code `cancelled` (session deleted, or none started) or `aborted` (session
 * kept with `onAbort: "keep"`: resume from the checkpoint) with the source's error as `cause`. In
 * every case the source has been closed (`return()` / `cancel()`) unless it ended by itself.
 *
 * @example
 * ```ts
 * const object = await upload(generateReport(), { bucket: "reports", name: "2026-12.csv" });
 * ```
 */
export async function upload(source: ByteSource, options: IterUploadOptions): Promise<ObjectResource> {
  if (typeof options !== "object" || options === null) throw new ValidationError("options", `expected an object, came ${options === null ? "null" : typeof options}`);
  const own = checkOwnOptions(options);
  const reader = openSource(source);
  const signal = options.signal;

  // The first chunk is read before the session starts, so a source that fails at once or yields
  // something other than bytes costs no request. An abort meanwhile stops the wait (the pull is
  // left to finish on its own; the source is closed once it does).
  let first: Uint8Array | undefined;
  if (signal?.aborted !== true) {
    let stopWaiting: (() => void) | undefined;
    const aborted = new Promise<"aborted">((resolve) => {
      if (signal === undefined) return;
      const listener = () => resolve("aborted");
      signal.addEventListener("abort", listener, { once: true });
      stopWaiting = () => signal.removeEventListener("abort", listener);
    });
    try {
      const outcome = await Promise.race([reader.next(), aborted]);
      if (outcome !== "aborted") first = outcome;
    } catch (error) {
      await reader.close(error);
      throw sourceFailure(error, 0, "none");
    } finally {
      stopWaiting?.();
    }
  }

  if (signal?.aborted === true) {
    // Nothing has been sent, and nothing will be: no session exists to cancel or keep.
    await reader.release(signal.reason);
    throw new UploadError("cancelled", `the upload was aborted before its session started (${reasonText(signal.reason)}); nothing was sent`, {
      cause: signal.reason,
      retryable: false,
    });
  }

  let handle: Upload;
  try {
    handle = createUpload(layerOptions(options), forIter(own.runtime ?? (await defaultRuntime())));
  } catch (error) {
    await reader.release(error);
    throw error;
  }
  subscribe(handle, "session", options.onSession);
  subscribe(handle, "progress", options.onProgress);
  subscribe(handle, "retry", options.onRetry);
  subscribe(handle, "checkpoint-saved", options.onCheckpointSaved);
  subscribe(handle, "resumed", options.onResumed);
  return pump(reader, handle, { readAhead: own.readAhead, ...(first === undefined ? {} : { first }), ...(signal === undefined ? {} : { signal }) });
}

function subscribe<K extends keyof UploadEventMap>(handle: Upload, type: K, callback: ((payload: UploadEventMap[K]) => void) | undefined): void {
  if (callback !== undefined) handle.on(type, callback);
}

/**
 * The runtime as this adapter uses it: the same services, minus option names that belong to another
 * adapter's stream glue (`highWaterMark` sizes a Node `Writable` or a `WritableStream`; here it would
 * be accepted and mean nothing, so it is refused like any unknown option).
 */
function forIter(runtime: UploadRuntime): UploadRuntime {
  // Methods stay bound to their runtime (it may be a class instance); anything missing stays
  // missing, for the layer's own check of the runtime to name.
  const bound = <T>(value: T): T => (typeof value === "function" ? (value.bind(runtime) as T) : value);
  return {
    name: runtime.name,
    createTransport: (context) => runtime.createTransport(context),
    clock: runtime.clock,
    wallClock: bound(runtime.wallClock),
    checksums: runtime.checksums,
    sha256: bound(runtime.sha256),
    random: bound(runtime.random),
    ...(runtime.env === undefined ? {} : { env: bound(runtime.env) }),
    ...(runtime.gzip === undefined ? {} : { gzip: bound(runtime.gzip) }),
    extraOptions: (runtime.extraOptions ?? []).filter((name) => !streamGlueOptions.has(name)),
  };
}

const streamGlueOptions: ReadonlySet<string> = new Set(["highWaterMark"]);

let sharedWebRuntime: Promise<UploadRuntime> | undefined;

/** The web runtime, made once per process: it loads its checksum implementations first. */
function defaultRuntime(): Promise<UploadRuntime> {
  sharedWebRuntime ??= loadWebRuntime();
  // A failed load is not cached: the next upload tries again.
  sharedWebRuntime.catch(() => (sharedWebRuntime = undefined));
  return sharedWebRuntime;
}

