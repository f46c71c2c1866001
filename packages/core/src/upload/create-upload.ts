/**
 * The upload layer: one runtime-neutral upload every adapter wraps.
 *
 * `createUpload(options, runtime)` validates the flat options, resolves the endpoint, applies the
 * trust rules, computes the customer-supplied key's hash, picks and builds the engine and hands
 * back an {@link Upload}: `write`/`end` with backpressure, `abort` with the `onAbort` policy,
 * `done`, the checkpoint and typed events. It also owns the checkpoint store (coalesced saves,
 * cleared when the upload is done or cancelled) and closes the transport it had the runtime build.
 *
 * Engines: the resumable session, the XML multipart upload when `parallelism` or `partSize` is
 * given (after `assertMultipartApplicable`: what it cannot honour is refused, naming the option),
 * or, with `singleRequest: "auto"` (the default) for a bucket and object name, one JSON API
 * multipart request when the source ends before the first chunk is full (`FirstChunkEngine` holds
 * the first chunk until it knows; a session then exists only once the source outgrew it). Both sit behind one {@link LayerEngine} surface (`engine.ts`), so everything below
 * is written once. A checkpoint resumes only the engine that wrote it: a multipart checkpoint with
 * options that do not ask for multipart, or the reverse, is a {@link ValidationError} on
 * `checkpoint`, never a silent switch.
 *
 * Rules:
 * - Pure: every runtime service comes from `runtime`; nothing global is read.
 * - Bad input throws at once (a {@link ValidationError} naming the option, or `untrusted-session-uri`),
 *   before any transport exists or any request is made.
 * - Every promise handed out is marked handled; `abort()` never rejects.
 * - An object that exists is never reported as failed or cancelled: a cancel that finds the object
 *   committed resolves `done` and reports the abort outcome `committed`.
 */
import { encodeBase64 } from "../base64.js";
import { parseCheckpoint, type Checkpoint } from "../checkpoint.js";
import type { ChecksumProvider } from "../checksum.js";
import { UploadError, ValidationError } from "../errors.js";
import { UploadMachine } from "../machine.js";
import { SingleRequestUpload } from "../multipart/single-request.js";
import { parseMultipartCheckpoint, resumeOffsetOf, type MultipartCheckpoint } from "../multipart/multipart-checkpoint.js";
import { MultipartMachine } from "../multipart/multipart-machine.js";
import { resolveMultipartOptions, type MultipartUploadOptions } from "../multipart/multipart-options.js";
import { DEFAULT_CHUNK_SIZE, type EncryptionKey, type UploadOptions as MachineOptions, type UploadTarget } from "../options.js";
import type { ObjectResource } from "../protocol.js";
import { resolveOptions } from "../resolve-options.js";
import type { Transport } from "../transport.js";
import { CheckpointSaver } from "./checkpoint-store.js";
import { FirstChunkEngine, MultipartEngine, ResumableEngine, SingleRequestEngine, type EngineEvent, type EngineHooks, type LayerEngine } from "./engine.js";
import { resolveEndpoint } from "./endpoint.js";
import { UploadEvents, type UploadEventListener, type UploadEventMap, type UploadEventName, type UploadProgress } from "./events.js";
import type { UploadOptions } from "./options.js";
import type { Compressor, UploadRuntime } from "./runtime.js";
import { TrustRules } from "./trust.js";
import { claimsMultipart, type UploadCheckpoint } from "./upload-checkpoint.js";
import { describeValue, relabel, validateUploadOptions, type ValidatedOptions } from "./validate.js";

/** How an {@link Upload.abort} ended. */
export type AbortOutcome =
  /** The session was deleted / the multipart upload aborted (or none existed yet). `done` rejects with code `cancelled`. */
  | { readonly outcome: "cancelled" }
  /** The session or multipart upload is kept, resumable; its checkpoint (also saved to the store, if any). `done` rejects with code `aborted`. */
  | { readonly outcome: "kept"; readonly checkpoint?: UploadCheckpoint }
  /** The object was already final before the abort took effect: it exists, verified. `done` resolves with it. */
  | { readonly outcome: "committed"; readonly object: ObjectResource };

/** One upload in progress; what every adapter wraps. */
export interface Upload {
  /**
   * Hands bytes to the upload (by reference: do not modify them until the upload is done). Resolves
   * when the engine wants more data (backpressure); rejects with the upload's error. Anything but a
   * `Uint8Array` rejects with a {@link ValidationError} (`invalid-argument`).
   */
  write(bytes: Uint8Array): Promise<void>;
  /** Ends the data; resolves with the verified object (the same as `done`). */
  end(): Promise<ObjectResource>;
  /**
   * Applies `onAbort` (`cancel`: delete the session; `keep`: keep it and save its checkpoint) and
   * aborts the request in flight. Never rejects. `done` then rejects with code `cancelled` or
   * `aborted`, or resolves if the object turned out to be committed.
   */
  abort(reason?: unknown): Promise<AbortOutcome>;
  /** Resolves with the verified object once the checkpoint store is cleared; rejects with the {@link UploadError} that ended the upload. Marked handled. */
  readonly done: Promise<ObjectResource>;
  /**
   * The latest checkpoint (JSON-serialisable; a multipart one has `kind: "xml-multipart"`), or
   * `undefined` before a session (or multipart upload) exists or after the upload ended.
   */
  checkpoint(): UploadCheckpoint | undefined;
  /** The stream offset the source must start at: 0, or the checkpoint's resume offset. */
  readonly resumeOffset: number;
  /** True while another write is welcome without growing memory. */
  readonly wantsData: boolean;
  /** Bytes held in memory: written, not yet confirmed by GCS. */
  readonly bytesBuffered: number;
  /** Bytes sent and persisted so far, and the total once known. */
  readonly progress: UploadProgress;
  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof UploadEventMap>(type: K, listener: (payload: UploadEventMap[K]) => void): () => void;
}

/** What the layer tells a caller to do when no credentials could be obtained. */
export const AUTH_ADVICE =
  "to fix: run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, " +
  "or point the upload at an emulator (apiEndpoint, or STORAGE_EMULATOR_HOST)";

function checkRuntime(runtime: UploadRuntime): void {
  if (typeof runtime !== "object" || runtime === null) throw new ValidationError("runtime", `expected an UploadRuntime, came ${describeValue(runtime)}`);
  const problems: [string, boolean][] = [
    ["runtime.name", typeof runtime.name === "string"],
    ["runtime.createTransport", typeof runtime.createTransport === "function"],
    ["runtime.clock", typeof runtime.clock?.now === "function" && typeof runtime.clock.setTimer === "function"],
    ["runtime.wallClock", typeof runtime.wallClock === "function"],
    ["runtime.checksums", typeof runtime.checksums?.crc32c === "function" && typeof runtime.checksums.md5 === "function"],
    ["runtime.sha256", typeof runtime.sha256 === "function"],
    ["runtime.random", typeof runtime.random === "function"],
  ];
  for (const [field, ok] of problems) if (!ok) throw new ValidationError(field, "missing or of the wrong type");
}

function checksumsFor(mode: ValidatedOptions["checksum"], runtime: UploadRuntime): ChecksumProvider {
  const { crc32c, md5 } = runtime.checksums;
  switch (mode) {
    case "crc32c":
      return { crc32c };
    case "md5":
      return { md5 };
    case "both":
      return { crc32c, md5 };
    case "none":
      return {};
  }
}

function machineTarget(o: ValidatedOptions, endpointUrl: string): UploadTarget {
  const target = o.target;
  switch (target.kind) {
    case "session":
      return { kind: "session", sessionUri: target.sessionUri };
    case "signed-url":
      return { kind: "signed-url", url: target.url, ...(target.contentType === undefined ? {} : { contentType: target.contentType }) };
    case "json": {
      const { kind: _kind, contentType, metadata, ...rest } = target;
      const objectMetadata = {
        ...metadata,
        ...(contentType === undefined ? {} : { contentType }),
        ...(o.gzip ? { contentEncoding: "gzip" } : {}),
      };
      return { kind: "json", ...rest, endpoint: endpointUrl, ...(Object.keys(objectMetadata).length === 0 ? {} : { metadata: objectMetadata }) };
    }
  }
}

/** The XML multipart engine's options from the validated flat ones (everything but the key). */
function multipartOptions(o: ValidatedOptions, endpointUrl: string, runtime: UploadRuntime): MultipartUploadOptions {
  const target = o.target;
  if (target.kind !== "json") throw new Error("multipartOptions: validation let a non-JSON target through");
  const metadata = {
    ...target.metadata,
    ...(target.contentType === undefined ? {} : { contentType: target.contentType }),
    ...(o.gzip ? { contentEncoding: "gzip" } : {}),
  };
  return {
    bucket: target.bucket,
    name: target.name,
    endpoint: endpointUrl,
    random: runtime.random,
    checksums: checksumsFor(o.checksum, runtime),
    checksum: o.checksum,
    retry: o.retry,
    // `keep` is the caller asking for resumability: a failure then keeps the upload for the checkpoint too.
    onFailure: o.onAbort === "keep" ? "keep" : "abort-upload",
    ...(Object.keys(metadata).length === 0 ? {} : { metadata }),
    ...(o.multipart?.parallelism === undefined ? {} : { parallelism: o.multipart.parallelism }),
    ...(o.multipart?.partSize === undefined ? {} : { partSize: o.multipart.partSize }),
    ...(o.totalSize === undefined ? {} : { totalSize: o.totalSize }),
    ...(target.ifGenerationMatch === undefined ? {} : { ifGenerationMatch: target.ifGenerationMatch }),
    ...(target.ifMetagenerationMatch === undefined ? {} : { ifMetagenerationMatch: target.ifMetagenerationMatch }),
    ...(target.predefinedAcl === undefined ? {} : { predefinedAcl: target.predefinedAcl }),
    ...(target.kmsKeyName === undefined ? {} : { kmsKeyName: target.kmsKeyName }),
    ...(target.userProject === undefined ? {} : { userProject: target.userProject }),
    ...(o.extraHeaders === undefined ? {} : { extraHeaders: o.extraHeaders }),
    ...(o.userAgent === undefined ? {} : { userAgent: o.userAgent }),
  };
}

/** An all-zero SHA-256 stand-in: lets the engine's validation run synchronously before the real hash exists. */
const PLACEHOLDER_SHA256 = encodeBase64(new Uint8Array(32));

/** What the layer builds its engine from: the options of the engine the flat options picked, and its checkpoint. */
type EnginePlan =
  | {
      readonly kind: "resumable";
      readonly options: MachineOptions;
      readonly checkpoint: Checkpoint | undefined;
      /** Hold the first chunk: a source that ends inside it goes as one request. */
      readonly singleRequest: boolean;
    }
  | { readonly kind: "xml-multipart"; readonly options: MultipartUploadOptions; readonly checkpoint: MultipartCheckpoint | undefined };

/** The checkpoint option, parsed as the kind the options ask for; a kind that does not fit is refused, never followed. */
function checkpointFor(o: ValidatedOptions, trust: TrustRules): { resumable?: Checkpoint; multipart?: MultipartCheckpoint } {
  if (o.checkpoint === undefined) return {};
  if (claimsMultipart(o.checkpoint)) {
    if (o.multipart === undefined) {
      throw new ValidationError(
        "checkpoint",
        'a multipart checkpoint (kind "xml-multipart") resumes only a multipart upload: give parallelism (or partSize) as the upload that wrote it did',
      );
    }
    return { multipart: parseMultipartCheckpoint(o.checkpoint) };
  }
  if (o.multipart !== undefined) {
    throw new ValidationError("checkpoint", "a resumable-session checkpoint resumes only the resumable path: drop parallelism/partSize to continue its session");
  }
  const checkpoint = parseCheckpoint(o.checkpoint);
  trust.checkSessionUri(checkpoint.sessionUri, "checkpoint");
  return { resumable: checkpoint };
}

/**
 * Creates an upload. Bad input throws here, before any request: a {@link ValidationError} naming
 * the option, or an {@link UploadError} `untrusted-session-uri` / `invalid-checkpoint`.
 *
 * @example
 * ```ts
 * const upload = createUpload({ bucket: "logs", name: "build/1.txt", contentType: "text/plain" }, runtime);
 * upload.on("progress", (p) => console.log(p.bytesPersisted));
 * for await (const bytes of source) await upload.write(bytes);
 * const object = await upload.end();
 * ```
 */
export function createUpload(options: UploadOptions, runtime: UploadRuntime): Upload {
  checkRuntime(runtime);
  const o = validateUploadOptions(options, runtime.extraOptions ?? []);
  const endpoint = resolveEndpoint({ apiEndpoint: o.apiEndpoint, universeDomain: o.universeDomain, allowInsecureHttp: o.allowInsecureHttp, env: runtime.env });
  const trust = new TrustRules(endpoint, o.target, o);
  if (o.target.kind === "session") trust.checkSessionUri(o.target.sessionUri, "sessionUri");
  const checkpoints = checkpointFor(o, trust);
  if (o.gzip && runtime.gzip === undefined) throw new ValidationError("gzip", `the ${runtime.name} runtime has no compressor`);

  const key = o.encryptionKey;
  // The engine's own checks (names, ranges, headers) run now, whatever the key's hash will be.
  const placeholderKey: EncryptionKey | undefined = key === undefined ? undefined : { key: encodeBase64(key), sha256: PLACEHOLDER_SHA256 };
  let plan: EnginePlan;
  if (o.multipart !== undefined) {
    const mpOptions = multipartOptions(o, endpoint.url, runtime);
    try {
      resolveMultipartOptions(placeholderKey === undefined ? mpOptions : { ...mpOptions, encryptionKey: placeholderKey });
      // Without a key the checkpoint's fingerprint can be matched now (pure), before a transport exists.
      if (placeholderKey === undefined && checkpoints.multipart !== undefined) MultipartMachine.restore(checkpoints.multipart, mpOptions);
    } catch (error) {
      throw relabel(error);
    }
    plan = { kind: "xml-multipart", options: mpOptions, checkpoint: checkpoints.multipart };
  } else {
    const base: MachineOptions = {
      target: machineTarget(o, endpoint.url),
      random: runtime.random,
      wallClock: runtime.wallClock,
      checksums: checksumsFor(o.checksum, runtime),
      checksum: o.checksum,
      retry: o.retry,
      ...(o.chunkSize === undefined ? {} : { chunkSize: o.chunkSize }),
      ...(o.totalSize === undefined ? {} : { totalSize: o.totalSize }),
      ...(o.origin === undefined ? {} : { origin: o.origin }),
      ...(o.extraHeaders === undefined ? {} : { extraHeaders: o.extraHeaders }),
      ...(o.userAgent === undefined ? {} : { userAgent: o.userAgent }),
    };
    try {
      resolveOptions(placeholderKey === undefined ? base : { ...base, encryptionKey: placeholderKey });
    } catch (error) {
      throw relabel(error);
    }
    // One request only for a new object of a bucket and name (not a resumed session), when the
    // source may end inside the first chunk, and without `origin` (whoever asks for it wants a session).
    const chunkSize = o.chunkSize ?? DEFAULT_CHUNK_SIZE;
    const singleRequest =
      o.singleRequest === "auto" &&
      o.target.kind === "json" &&
      checkpoints.resumable === undefined &&
      o.origin === undefined &&
      (o.totalSize === undefined || o.totalSize < chunkSize);
    plan = { kind: "resumable", options: base, checkpoint: checkpoints.resumable, singleRequest };
  }
  const transport = runtime.createTransport({ options: options as Readonly<Record<string, unknown>>, endpoint, credentialsAllowed: trust.credentialsAllowed });
  return new LayerUpload(o, runtime, trust, transport, transport !== options.transport, plan);
}

/** Builds the engine `plan` describes, with the key's real hash (restoring its checkpoint when given). */
function buildEngine(plan: EnginePlan, key: EncryptionKey | undefined, runtime: UploadRuntime, hooks: EngineHooks): LayerEngine {
  try {
    if (plan.kind === "xml-multipart") {
      const options = key === undefined ? plan.options : { ...plan.options, encryptionKey: key };
      const machine = plan.checkpoint === undefined ? new MultipartMachine(options, runtime.wallClock) : MultipartMachine.restore(plan.checkpoint, options, runtime.wallClock);
      return new MultipartEngine(machine, hooks);
    }
    const options = key === undefined ? plan.options : { ...plan.options, encryptionKey: key };
    if (plan.singleRequest) {
      return new FirstChunkEngine({
        chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE,
        resumable: () => new ResumableEngine(new UploadMachine(options), hooks),
        single: (body) => new SingleRequestEngine(new SingleRequestUpload(options, body), hooks),
      });
    }
    const machine = plan.checkpoint === undefined ? new UploadMachine(options) : UploadMachine.restore(plan.checkpoint, options);
    return new ResumableEngine(machine, hooks);
  } catch (error) {
    throw relabel(error);
  }
}

function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

class LayerUpload implements Upload {
  readonly done: Promise<ObjectResource>;
  readonly #o: ValidatedOptions;
  readonly #trust: TrustRules;
  readonly #transport: Transport;
  readonly #ownsTransport: boolean;
  readonly #events = new UploadEvents();
  readonly #saver: CheckpointSaver | undefined;
  readonly #compressor: Compressor | undefined;
  readonly #ready: Promise<LayerEngine>;
  readonly #checkpointOffset: number;
  #engine: LayerEngine | undefined;
  /** Writes run one after another when they cannot go straight to the engine (key hashing, gzip). */
  #chain: Promise<void> = Promise.resolve();
  /** An error the layer itself ended the upload with (trust, checkpoint store); wins over the engine's `aborted`. */
  #override: UploadError | undefined;
  #advised = new WeakMap<UploadError, UploadError>();
  #aborting: Promise<AbortOutcome> | undefined;
  #ended = false;

  constructor(o: ValidatedOptions, runtime: UploadRuntime, trust: TrustRules, transport: Transport, ownsTransport: boolean, plan: EnginePlan) {
    this.#o = o;
    this.#trust = trust;
    this.#transport = transport;
    this.#ownsTransport = ownsTransport;
    this.#checkpointOffset =
      plan.checkpoint === undefined ? 0 : plan.kind === "xml-multipart" ? resumeOffsetOf(plan.checkpoint).offset : plan.checkpoint.resumeOffset;
    this.#compressor = o.gzip ? runtime.gzip?.() : undefined;
    const store = o.checkpointStore;
    this.#saver =
      store === undefined
        ? undefined
        : new CheckpointSaver(
            store,
            (saved) => this.#events.emit("checkpoint-saved", { checkpoint: saved }),
            (error) =>
              this.#fail(
                new UploadError("aborted", `the checkpoint store failed to save (${error instanceof Error ? error.message : String(error)}); the session is kept`, {
                  cause: error,
                  retryable: true,
                }),
              ),
          );
    const hooks: EngineHooks = {
      transport: this.#guarded(transport),
      clock: runtime.clock,
      onEvent: (event) => this.#onEvent(event),
      credentialsFor: (url) => this.#trust.credentialsFor(url),
    };
    const start = (key: EncryptionKey | undefined): LayerEngine => {
      const engine = buildEngine(plan, key, runtime, hooks);
      this.#engine = engine;
      return engine;
    };
    const key = o.encryptionKey;
    if (key === undefined) {
      this.#ready = Promise.resolve(start(undefined));
    } else {
      // The key's hash is async (SubtleCrypto is); the engine starts once it is known.
      this.#ready = handled(
        Promise.resolve()
          .then(() => runtime.sha256(key))
          .then((digest) => start({ key: encodeBase64(key), sha256: encodeBase64(digest) })),
      );
    }
    this.done = handled(this.#settle());
    const signal = o.signal;
    if (signal !== undefined) {
      const onAbort = (): void => void this.abort(signal.reason);
      if (signal.aborted) void Promise.resolve().then(onAbort);
      else {
        signal.addEventListener("abort", onAbort, { once: true });
        void this.done.then(
          () => signal.removeEventListener("abort", onAbort),
          () => signal.removeEventListener("abort", onAbort),
        );
      }
    }
  }

  // ---- getters ----------------------------------------------------------------------------------

  get resumeOffset(): number {
    return this.#engine?.resumeOffset ?? this.#checkpointOffset;
  }

  get wantsData(): boolean {
    return this.#engine?.wantsData ?? false;
  }

  get bytesBuffered(): number {
    return this.#engine?.bytesBuffered ?? 0;
  }

  get progress(): UploadProgress {
    const engine = this.#engine;
    if (engine === undefined) return { bytesSent: this.#checkpointOffset, bytesPersisted: this.#checkpointOffset, ...this.#total() };
    return { bytesSent: engine.bytesSent, bytesPersisted: engine.bytesPersisted, ...this.#total() };
  }

  checkpoint(): UploadCheckpoint | undefined {
    return this.#engine?.checkpoint();
  }

  on<K extends UploadEventName>(type: K, listener: UploadEventListener<K>): () => void {
    if (typeof listener !== "function") throw new ValidationError(`on(${String(type)})`, `expected a listener function, came ${describeValue(listener)}`);
    return this.#events.on(type, listener);
  }

  // ---- input ------------------------------------------------------------------------------------

  write(bytes: Uint8Array): Promise<void> {
    if (!(bytes instanceof Uint8Array)) {
      return handled(Promise.reject(new ValidationError("write(bytes)", `expected bytes (a Uint8Array), came ${describeValue(bytes)}`)));
    }
    const engine = this.#engine;
    if (engine !== undefined && this.#compressor === undefined) return this.#surfaced(engine.write(bytes));
    const compressor = this.#compressor;
    const step = this.#chain.then(async () => {
      const ready = await this.#ready;
      if (compressor === undefined) return ready.write(bytes);
      for (const piece of await compressor.push(bytes)) await ready.write(piece);
    });
    this.#chain = step.catch(() => undefined);
    return this.#surfaced(step);
  }

  end(): Promise<ObjectResource> {
    if (this.#ended) return this.done;
    this.#ended = true;
    const compressor = this.#compressor;
    const ended = this.#chain.then(async () => {
      const engine = await this.#ready;
      if (compressor !== undefined) for (const piece of await compressor.finish()) await engine.write(piece);
      return engine.end();
    });
    return this.#surfaced(ended).then(() => this.done);
  }

  abort(reason?: unknown): Promise<AbortOutcome> {
    this.#aborting ??= this.#abort(reason);
    return this.#aborting;
  }

  // ---- internals --------------------------------------------------------------------------------

  async #abort(reason: unknown): Promise<AbortOutcome> {
    let engine: LayerEngine;
    try {
      engine = await this.#ready;
    } catch {
      return { outcome: "cancelled" }; // the engine never started: nothing exists anywhere
    }
    if (this.#o.onAbort === "cancel") {
      await engine.cancel();
    } else {
      engine.abort(reason);
      const checkpoint = engine.checkpoint();
      if (checkpoint !== undefined) this.#saver?.queue(checkpoint);
      await this.#saver?.flush();
    }
    await this.done.catch(() => undefined);
    // The engine ends `done` when the object was final before the cancel took effect, and `done`
    // is where a keep-abort lands when the final answer was already in.
    const object = engine.object;
    if (object !== undefined) return { outcome: "committed", object };
    if (this.#o.onAbort === "cancel" || engine.cancelled) return { outcome: "cancelled" };
    const checkpoint = engine.checkpoint();
    return checkpoint === undefined ? { outcome: "kept" } : { outcome: "kept", checkpoint };
  }

  /** The upload's end: verified object (store cleared) or error (store kept, unless nothing is left to resume). The transport is closed either way. */
  async #settle(): Promise<ObjectResource> {
    let engine: LayerEngine | undefined;
    try {
      engine = await this.#ready;
      const object = await engine.done;
      await this.#saver?.clear().catch(() => undefined); // a stale checkpoint only leads a rerun to verify the object
      return object;
    } catch (error) {
      const surfaced = this.#surface(error);
      if (this.#saver !== undefined) {
        // A cancelled upload, or a multipart upload aborted after its failure, leaves nothing to resume.
        const nothingLeft = surfaced.code === "cancelled" || (engine?.kind === "xml-multipart" && engine.checkpoint() === undefined);
        if (nothingLeft) await this.#saver.clear().catch(() => undefined);
        else await this.#saver.flush();
      }
      throw surfaced;
    } finally {
      if (this.#ownsTransport) {
        try {
          await this.#transport.close?.();
        } catch {
          // Closing is best effort: the upload's outcome is already decided.
        }
      }
    }
  }

  #onEvent(event: EngineEvent): void {
    switch (event.type) {
      case "session":
        if (event.sessionUri !== undefined) {
          try {
            this.#trust.checkSessionUri(event.sessionUri, "Location");
          } catch (error) {
            // Thrown on: the driver aborts before any request reaches the session URI.
            this.#override = error as UploadError;
            throw error;
          }
        }
        this.#saver?.queue(event.checkpoint);
        this.#events.emit("session", { checkpoint: event.checkpoint });
        break;
      case "checkpoint": {
        const checkpoint = this.#engine?.checkpoint();
        if (checkpoint !== undefined) this.#saver?.queue(checkpoint);
        break;
      }
      case "progress": {
        const checkpoint = this.#engine?.checkpoint();
        if (checkpoint !== undefined) this.#saver?.queue(checkpoint);
        this.#events.emit("progress", { bytesSent: event.bytesSent, bytesPersisted: event.bytesPersisted, ...this.#total() });
        break;
      }
      case "retry":
        this.#events.emit("retry", {
          attempt: event.attempt,
          delayMs: event.delayMs,
          error: this.#surface(event.error),
          ...(event.partNumber === undefined ? {} : { partNumber: event.partNumber }),
        });
        break;
      case "resumed": {
        const { type: _type, ...payload } = event;
        this.#events.emit("resumed", payload);
        break;
      }
    }
  }

  #total(): { totalBytes?: number } {
    const total = this.#engine?.totalSize ?? this.#o.totalSize;
    return total === undefined ? {} : { totalBytes: total };
  }

  /** Ends the upload with `error` (the layer's own reason). */
  #fail(error: UploadError): void {
    if (this.#override !== undefined) return;
    this.#override = error;
    this.#engine?.abort(error);
  }

  /** The error a caller sees: the layer's own reason first, credentials failures with advice. */
  #surface(error: unknown): UploadError {
    if (this.#override !== undefined && error instanceof UploadError && error.code === "aborted") return this.#override;
    if (!(error instanceof UploadError)) return new UploadError("aborted", `the upload stopped: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    if (error.code !== "auth") return error;
    let advised = this.#advised.get(error);
    if (advised === undefined) {
      advised = new UploadError(error.code, `${error.message}; ${AUTH_ADVICE}`, { cause: error, retryable: false });
      this.#advised.set(error, advised);
    }
    return advised;
  }

  #surfaced<T>(promise: Promise<T>): Promise<T> {
    return handled(promise.then(undefined, (error: unknown) => Promise.reject(this.#surface(error))));
  }

  /** Every request passes the trust rules on its way out (defence in depth). */
  #guarded(transport: Transport): Transport {
    const send: Transport["send"] = (request, options) => {
      if (!this.#trust.allows(request.url)) {
        const error = new UploadError("untrusted-session-uri", "a request to an origin this upload does not trust was stopped before it was sent", {
          sessionUri: request.url,
        });
        this.#fail(error);
        return Promise.reject(error);
      }
      return transport.send(request, options);
    };
    return { specificationVersion: transport.specificationVersion, capabilities: transport.capabilities, send };
  }
}

