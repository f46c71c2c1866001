/**
 * The upload layer: one runtime-neutral upload every adapter wraps.
 *
 * `createUpload(options, runtime)` validates the flat options, resolves the endpoint, applies the
 * trust rules, computes the customer-supplied key's hash, builds the engine (machine + driver) and
 * hands back an {@link Upload}: `write`/`end` with backpressure, `abort` with the `onAbort` policy,
 * `done`, the checkpoint and typed events. It also owns the checkpoint store (coalesced saves,
 * cleared when the upload is done or cancelled) and closes the transport it had the runtime build.
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
import { UploadDriver } from "../driver.js";
import { UploadError, ValidationError } from "../errors.js";
import { UploadMachine, type UploadEvent } from "../machine.js";
import type { UploadOptions as MachineOptions, UploadTarget } from "../options.js";
import type { ObjectResource } from "../protocol.js";
import { resolveOptions } from "../resolve-options.js";
import type { Transport, TransportRequest } from "../transport.js";
import { CheckpointSaver } from "./checkpoint-store.js";
import { resolveEndpoint } from "./endpoint.js";
import { UploadEvents, type UploadEventListener, type UploadEventMap, type UploadEventName, type UploadProgress } from "./events.js";
import type { UploadOptions } from "./options.js";
import type { Compressor, UploadRuntime } from "./runtime.js";
import { TrustRules } from "./trust.js";
import { describeValue, relabel, validateUploadOptions, type ValidatedOptions } from "./validate.js";

/** How an {@link Upload.abort} ended. */
export type AbortOutcome =
  /** The session was deleted (or none existed yet). `done` rejects with code `cancelled`. */
  | { readonly outcome: "cancelled" }
  /** The session is kept, resumable; its checkpoint (also saved to the store, if any). `done` rejects with code `aborted`. */
  | { readonly outcome: "kept"; readonly checkpoint?: Checkpoint }
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
  /** The latest checkpoint (JSON-serialisable), or `undefined` before a session exists or after the upload ended. */
  checkpoint(): Checkpoint | undefined;
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

/** An all-zero SHA-256 stand-in: lets the engine's validation run synchronously before the real hash exists. */
const PLACEHOLDER_SHA256 = encodeBase64(new Uint8Array(32));

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
  let checkpoint: Checkpoint | undefined;
  if (o.checkpoint !== undefined) {
    checkpoint = parseCheckpoint(o.checkpoint);
    trust.checkSessionUri(checkpoint.sessionUri, "checkpoint");
  }
  if (o.gzip && runtime.gzip === undefined) throw new ValidationError("gzip", `the ${runtime.name} runtime has no compressor`);

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
  const key = o.encryptionKey;
  try {
    // The engine's own checks (names, ranges, headers) run now, whatever the key's hash will be.
    resolveOptions(key === undefined ? base : { ...base, encryptionKey: { key: encodeBase64(key), sha256: PLACEHOLDER_SHA256 } });
  } catch (error) {
    throw relabel(error);
  }
  const transport = runtime.createTransport({ options: options as Readonly<Record<string, unknown>>, endpoint, credentialsAllowed: trust.credentialsAllowed });
  return new LayerUpload(o, runtime, trust, transport, transport !== options.transport, base, checkpoint);
}

/** Builds the engine for `machineOptions` (restoring `checkpoint` when given). */
function buildMachine(machineOptions: MachineOptions, checkpoint: unknown): UploadMachine {
  try {
    return checkpoint === undefined ? new UploadMachine(machineOptions) : UploadMachine.restore(checkpoint, machineOptions);
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
  readonly #ready: Promise<UploadDriver>;
  readonly #checkpointOffset: number;
  #driver: UploadDriver | undefined;
  /** Writes run one after another when they cannot go straight to the driver (key hashing, gzip). */
  #chain: Promise<void> = Promise.resolve();
  /** An error the layer itself ended the upload with (trust, checkpoint store); wins over the engine's `aborted`. */
  #override: UploadError | undefined;
  #advised = new WeakMap<UploadError, UploadError>();
  #aborting: Promise<AbortOutcome> | undefined;
  #ended = false;

  constructor(
    o: ValidatedOptions,
    runtime: UploadRuntime,
    trust: TrustRules,
    transport: Transport,
    ownsTransport: boolean,
    base: MachineOptions,
    checkpoint: Checkpoint | undefined,
  ) {
    this.#o = o;
    this.#trust = trust;
    this.#transport = transport;
    this.#ownsTransport = ownsTransport;
    this.#checkpointOffset = checkpoint?.resumeOffset ?? 0;
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
    const start = (machineOptions: MachineOptions): UploadDriver => {
      const driver = new UploadDriver({
        machine: buildMachine(machineOptions, o.checkpoint),
        transport: this.#guarded(transport),
        clock: runtime.clock,
        onEvent: (event) => this.#onEvent(event),
        credentialsFor: (request: TransportRequest) => this.#trust.credentialsFor(request.url),
      });
      this.#driver = driver;
      return driver;
    };
    const key = o.encryptionKey;
    if (key === undefined) {
      this.#ready = Promise.resolve(start(base));
    } else {
      // The key's hash is async (SubtleCrypto is); the engine starts once it is known.
      this.#ready = handled(
        Promise.resolve()
          .then(() => runtime.sha256(key))
          .then((digest) => start({ ...base, encryptionKey: { key: encodeBase64(key), sha256: encodeBase64(digest) } })),
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
    return this.#driver?.machine.resumeOffset ?? this.#checkpointOffset;
  }

  get wantsData(): boolean {
    return this.#driver?.machine.wantsData ?? false;
  }

  get bytesBuffered(): number {
    return this.#driver?.machine.bytesBuffered ?? 0;
  }

  get progress(): UploadProgress {
    const machine = this.#driver?.machine;
    if (machine === undefined) return { bytesSent: this.#checkpointOffset, bytesPersisted: this.#checkpointOffset, ...this.#total(undefined) };
    return { bytesSent: machine.bytesSent, bytesPersisted: machine.bytesPersisted, ...this.#total(machine) };
  }

  checkpoint(): Checkpoint | undefined {
    return this.#driver?.checkpoint();
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
    const driver = this.#driver;
    if (driver !== undefined && this.#compressor === undefined) return this.#surfaced(driver.write(bytes));
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
      const driver = await this.#ready;
      if (compressor !== undefined) for (const piece of await compressor.finish()) await driver.write(piece);
      return driver.end();
    });
    return this.#surfaced(ended).then(() => this.done);
  }

  abort(reason?: unknown): Promise<AbortOutcome> {
    this.#aborting ??= this.#abort(reason);
    return this.#aborting;
  }

  // ---- internals --------------------------------------------------------------------------------

  async #abort(reason: unknown): Promise<AbortOutcome> {
    let driver: UploadDriver;
    try {
      driver = await this.#ready;
    } catch {
      return { outcome: "cancelled" }; // the engine never started: nothing exists anywhere
    }
    const machine = driver.machine;
    if (this.#o.onAbort === "cancel") {
      await driver.cancel();
    } else {
      driver.abort(reason);
      const checkpoint = machine.checkpoint();
      if (checkpoint !== undefined) this.#saver?.queue(checkpoint);
      await this.#saver?.flush();
    }
    await this.done.catch(() => undefined);
    // The engine ends `done` (committedBeforeCancel) when the object was final before the cancel took
    // effect, and `done` is where a keep-abort lands when the final answer was already in.
    if (machine.state === "done" && machine.object !== undefined) return { outcome: "committed", object: machine.object };
    if (this.#o.onAbort === "cancel" || machine.state === "cancelled") return { outcome: "cancelled" };
    const checkpoint = machine.checkpoint();
    return checkpoint === undefined ? { outcome: "kept" } : { outcome: "kept", checkpoint };
  }

  /** The upload's end: verified object (store cleared) or error (store kept, unless cancelled). The transport is closed either way. */
  async #settle(): Promise<ObjectResource> {
    try {
      const driver = await this.#ready;
      const object = await driver.done;
      await this.#saver?.clear().catch(() => undefined); // a stale checkpoint only leads a rerun to verify the object
      return object;
    } catch (error) {
      const surfaced = this.#surface(error);
      if (this.#saver !== undefined) {
        if (surfaced.code === "cancelled") await this.#saver.clear().catch(() => undefined);
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

  #onEvent(event: UploadEvent): void {
    switch (event.type) {
      case "session":
        try {
          this.#trust.checkSessionUri(event.sessionUri, "Location");
        } catch (error) {
          // Thrown on: the driver aborts before any request reaches the session URI.
          this.#override = error as UploadError;
          throw error;
        }
        this.#saver?.queue(event.checkpoint);
        this.#events.emit("session", { checkpoint: event.checkpoint });
        break;
      case "progress": {
        const checkpoint = this.#driver?.checkpoint();
        if (checkpoint !== undefined) this.#saver?.queue(checkpoint);
        this.#events.emit("progress", { bytesSent: event.bytesSent, bytesPersisted: event.bytesPersisted, ...this.#total(this.#driver?.machine) });
        break;
      }
      case "retry":
        this.#events.emit("retry", { attempt: event.attempt, delayMs: event.delayMs, error: this.#surface(event.error) });
        break;
      case "resumed":
        this.#events.emit("resumed", { resumeOffset: event.checkpointOffset, serverOffset: event.serverOffset, md5Skipped: event.md5Skipped });
        break;
      default:
        break;
    }
  }

  #total(machine: UploadMachine | undefined): { totalBytes?: number } {
    const total = machine?.totalSize ?? this.#o.totalSize;
    return total === undefined ? {} : { totalBytes: total };
  }

  /** Ends the upload with `error` (the layer's own reason). */
  #fail(error: UploadError): void {
    if (this.#override !== undefined) return;
    this.#override = error;
    this.#driver?.abort(error);
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

