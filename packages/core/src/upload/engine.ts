/**
 * The one engine surface the upload layer drives, whichever engine the options picked: the
 * resumable session ({@link UploadDriver} over {@link UploadMachine}), the XML multipart upload
 * ({@link MultipartDriver} over {@link MultipartMachine}), or one JSON API multipart request for a
 * small object ({@link SingleRequestDriver} over {@link SingleRequestUpload}), the last two chosen
 * between by {@link FirstChunkEngine} once it knows whether the source fits in the first chunk.
 *
 * Rules:
 * - `LayerUpload` talks to a {@link LayerEngine} only, so the trust rules, the checkpoint store,
 *   the abort policy and the typed events are written once for every engine.
 * - Each engine's events are translated here into {@link EngineEvent}s, the layer's vocabulary: a
 *   `session` (with the URI to check, for the resumable engine), `progress`, `checkpoint` (the
 *   checkpoint grew without progress being reported, e.g. a part's ETag arrived), `retry` and
 *   `resumed`. Events the layer has no use for are dropped here, not there.
 * - A listener that throws aborts the upload with that error as the cause (the drivers' rule).
 */
import type { Clock } from "../clock.js";
import { UploadDriver } from "../driver.js";
import { UploadError } from "../errors.js";
import type { UploadMachine, UploadEvent } from "../machine.js";
import { MultipartDriver } from "../multipart/multipart-driver.js";
import type { MultipartEvent, MultipartMachine } from "../multipart/multipart-machine.js";
import { SingleRequestDriver } from "../multipart/single-request-driver.js";
import type { SingleRequestEvent, SingleRequestUpload } from "../multipart/single-request.js";
import type { ObjectResource } from "../protocol.js";
import type { Transport, TransportRequest } from "../transport.js";
import type { UploadCheckpoint } from "./upload-checkpoint.js";

/** What an engine tells the layer, in the layer's words. */
export type EngineEvent =
  /** An upload exists server-side; `sessionUri` is set when the engine got it from the server (to be checked by the trust rules). */
  | { readonly type: "session"; readonly checkpoint: UploadCheckpoint; readonly sessionUri?: string }
  /** Bytes sent or persisted changed. */
  | { readonly type: "progress"; readonly bytesSent: number; readonly bytesPersisted: number }
  /** The checkpoint changed without a progress report (save it, coalesced). */
  | { readonly type: "checkpoint" }
  /** A request failed transiently and is retried after `delayMs` (`partNumber`: only that part). */
  | { readonly type: "retry"; readonly attempt: number; readonly delayMs: number; readonly error: UploadError; readonly partNumber?: number }
  /** A restored upload learned where the server stands. */
  | {
      readonly type: "resumed";
      readonly resumeOffset: number;
      readonly serverOffset: number;
      readonly md5Skipped: boolean;
      readonly partsKept?: number;
      readonly partsLost?: number;
    };

/** The surface both engines present to the layer. */
export interface LayerEngine {
  /** Which engine this is (a {@link FirstChunkEngine} says which one it became, `deciding` before). */
  readonly kind: "resumable" | "xml-multipart" | "single-request" | "deciding";
  /** Resolves with the verified object; rejects with the error that ended the upload. Marked handled. */
  readonly done: Promise<ObjectResource>;
  /** Hands bytes on; resolves when more are wanted. */
  write(bytes: Uint8Array): Promise<void>;
  /** Ends the data; resolves with the verified object. */
  end(): Promise<ObjectResource>;
  /** Cancels (deletes the session / aborts the multipart upload); resolves once finished. Never rejects. */
  cancel(): Promise<void>;
  /** Stops at once, keeping what exists server-side for a resume. */
  abort(reason?: unknown): void;
  /** The checkpoint to resume from, or `undefined` when there is nothing to resume. */
  checkpoint(): UploadCheckpoint | undefined;
  /** The offset the source must start at. */
  readonly resumeOffset: number;
  /** True while another write is welcome without growing memory. */
  readonly wantsData: boolean;
  /** Bytes held in memory, not yet confirmed by GCS. */
  readonly bytesBuffered: number;
  /** Highest stream offset handed to the transport (bytes of parts sent, for multipart). */
  readonly bytesSent: number;
  /** Bytes GCS confirmed. */
  readonly bytesPersisted: number;
  /** The total once known (declared, or the source ended). */
  readonly totalSize: number | undefined;
  /** The verified object, once the engine ended done (also after a cancel that found it committed). */
  readonly object: ObjectResource | undefined;
  /** True once the engine ended cancelled. */
  readonly cancelled: boolean;
}

/** What an engine runs on, from the layer. */
export interface EngineHooks {
  /** The transport, already behind the trust rules' guard. */
  readonly transport: Transport;
  /** Time and timers. */
  readonly clock: Clock;
  /** Receives every translated event. If it throws, the upload is aborted with that error. */
  readonly onEvent: (event: EngineEvent) => void;
  /** Whether a request to `url` may carry credentials (the trust rules). */
  readonly credentialsFor: (url: string) => boolean;
}

/** A driver's services from the layer's hooks: its events translated into the layer's words (those the layer has no use for dropped). */
function driverHooks<E>(hooks: EngineHooks, translate: (event: E) => EngineEvent | undefined) {
  return {
    transport: hooks.transport,
    clock: hooks.clock,
    onEvent: (event: E): void => {
      const translated = translate(event);
      if (translated !== undefined) hooks.onEvent(translated);
    },
    credentialsFor: (request: TransportRequest): boolean => hooks.credentialsFor(request.url),
  };
}

/** What {@link DrivenEngine} forwards to: a driver's calls. */
interface EngineDriver {
  readonly done: Promise<ObjectResource>;
  write(bytes: Uint8Array): Promise<void>;
  end(): Promise<ObjectResource>;
  cancel(): Promise<void>;
  abort(reason?: unknown): void;
  checkpoint(): UploadCheckpoint | undefined;
}

/** What {@link DrivenEngine} reads: a machine's counters. */
interface EngineCounters {
  readonly resumeOffset: number;
  readonly wantsData: boolean;
  readonly bytesBuffered: number;
  readonly bytesSent: number;
  readonly bytesPersisted: number;
  readonly totalSize: number | undefined;
}

/**
 * A machine and its driver behind the layer's surface: calls go to the driver, counters come
 * from the machine. The resumable and multipart engines differ only in their driver, how their
 * machine says it ended, and how their events translate.
 */
abstract class DrivenEngine implements LayerEngine {
  abstract readonly kind: "resumable" | "xml-multipart";
  readonly done: Promise<ObjectResource>;
  readonly #driver: EngineDriver;
  readonly #counters: EngineCounters;

  protected constructor(driver: EngineDriver, counters: EngineCounters) {
    this.#driver = driver;
    this.#counters = counters;
    this.done = driver.done;
  }

  /** See {@link LayerEngine.object}. */
  abstract get object(): ObjectResource | undefined;
  /** See {@link LayerEngine.cancelled}. */
  abstract get cancelled(): boolean;

  /** See {@link LayerEngine.write}. */
  write(bytes: Uint8Array): Promise<void> {
    return this.#driver.write(bytes);
  }

  /** See {@link LayerEngine.end}. */
  end(): Promise<ObjectResource> {
    return this.#driver.end();
  }

  /** See {@link LayerEngine.cancel}. */
  cancel(): Promise<void> {
    return this.#driver.cancel();
  }

  /** See {@link LayerEngine.abort}. */
  abort(reason?: unknown): void {
    this.#driver.abort(reason);
  }

  /** See {@link LayerEngine.checkpoint}. */
  checkpoint(): UploadCheckpoint | undefined {
    return this.#driver.checkpoint();
  }

  get resumeOffset(): number {
    return this.#counters.resumeOffset;
  }

  get wantsData(): boolean {
    return this.#counters.wantsData;
  }

  get bytesBuffered(): number {
    return this.#counters.bytesBuffered;
  }

  get bytesSent(): number {
    return this.#counters.bytesSent;
  }

  get bytesPersisted(): number {
    return this.#counters.bytesPersisted;
  }

  get totalSize(): number | undefined {
    return this.#counters.totalSize;
  }
}

/** The resumable session engine behind the layer's surface. */
export class ResumableEngine extends DrivenEngine {
  readonly kind = "resumable";
  readonly #machine: UploadMachine;

  /** Starts driving `machine` (on the next microtask). */
  constructor(machine: UploadMachine, hooks: EngineHooks) {
    super(
      new UploadDriver({
        machine,
        ...driverHooks(hooks, translateResumable),
      }),
      machine,
    );
    this.#machine = machine;
  }

  get object(): ObjectResource | undefined {
    return this.#machine.state === "done" ? this.#machine.object : undefined;
  }

  get cancelled(): boolean {
    return this.#machine.state === "cancelled";
  }
}

function translateResumable(event: UploadEvent): EngineEvent | undefined {
  switch (event.type) {
    case "session":
      return { type: "session", checkpoint: event.checkpoint, sessionUri: event.sessionUri };
    case "progress":
      return { type: "progress", bytesSent: event.bytesSent, bytesPersisted: event.bytesPersisted };
    case "retry":
      return { type: "retry", attempt: event.attempt, delayMs: event.delayMs, error: event.error };
    case "resumed":
      return { type: "resumed", resumeOffset: event.checkpointOffset, serverOffset: event.serverOffset, md5Skipped: event.md5Skipped };
    default:
      return undefined;
  }
}

/** The XML multipart engine behind the layer's surface. */
export class MultipartEngine extends DrivenEngine {
  readonly kind = "xml-multipart";
  readonly #machine: MultipartMachine;

  /** Starts driving `machine` (on the next microtask). */
  constructor(machine: MultipartMachine, hooks: EngineHooks) {
    super(
      new MultipartDriver({
        machine,
        ...driverHooks(hooks, translateMultipart),
      }),
      machine,
    );
    this.#machine = machine;
  }

  get object(): ObjectResource | undefined {
    return this.#machine.phase === "done" ? this.#machine.object : undefined;
  }

  get cancelled(): boolean {
    return this.#machine.phase === "cancelled";
  }
}

function translateMultipart(event: MultipartEvent): EngineEvent | undefined {
  switch (event.type) {
    case "session":
      // The upload id travels in URLs the engine builds on the endpoint's origin: nothing to check.
      return { type: "session", checkpoint: event.checkpoint };
    case "part":
      return { type: "checkpoint" };
    case "progress":
      return { type: "progress", bytesSent: event.bytesSent, bytesPersisted: event.bytesPersisted };
    case "retry":
      return { type: "retry", attempt: event.attempt, delayMs: event.delayMs, error: event.error, ...(event.partNumber === undefined ? {} : { partNumber: event.partNumber }) };
    case "resumed":
      // Parts are checksummed from the replayed source, so MD5 (per part) is never skipped; the
      // server holds, from byte 0, exactly the prefix the source resumes after.
      return { type: "resumed", resumeOffset: event.resumeOffset, serverOffset: event.resumeOffset, md5Skipped: false, partsKept: event.partsKept, partsLost: event.partsLost };
    default:
      return undefined;
  }
}

/** One JSON API multipart request for the whole (small) object, behind the layer's surface. */
export class SingleRequestEngine implements LayerEngine {
  readonly kind = "single-request";
  readonly done: Promise<ObjectResource>;
  readonly #upload: SingleRequestUpload;
  readonly #driver: SingleRequestDriver;

  /** Starts the request (on the next microtask); the body is in `upload` already. */
  constructor(upload: SingleRequestUpload, hooks: EngineHooks) {
    this.#upload = upload;
    this.#driver = new SingleRequestDriver({
      upload,
      ...driverHooks(hooks, translateSingle),
    });
    this.done = this.#driver.done;
  }

  /** The body is complete from the start: a write is caller misuse. */
  write(): Promise<void> {
    const error = new UploadError("aborted", "write() after end(): the single-request upload already holds the whole object");
    const rejected = Promise.reject(error);
    rejected.catch(() => undefined);
    return rejected;
  }

  /** See {@link LayerEngine.end}: the request is already on its way. */
  end(): Promise<ObjectResource> {
    return this.done;
  }

  /** See {@link LayerEngine.cancel}. */
  cancel(): Promise<void> {
    return this.#driver.cancel();
  }

  /**
   * There is nothing to keep (no session exists), so an abort is a cancel: a request in flight is let
   * settle, because its answer is the only way to know whether the object exists (one that does is
   * reported committed, never "aborted").
   */
  abort(): void {
    void this.#driver.cancel();
  }

  /** No session exists, so there is nothing to resume. */
  checkpoint(): undefined {
    return undefined;
  }

  get resumeOffset(): number {
    return 0;
  }

  get wantsData(): boolean {
    return false;
  }

  get bytesBuffered(): number {
    return this.#upload.isFinished ? 0 : this.#upload.totalSize;
  }

  get bytesSent(): number {
    return this.#sent ? this.#upload.totalSize : 0;
  }

  get bytesPersisted(): number {
    return this.#upload.object === undefined ? 0 : this.#upload.totalSize;
  }

  get totalSize(): number {
    return this.#upload.totalSize;
  }

  get object(): ObjectResource | undefined {
    return this.#upload.object;
  }

  get cancelled(): boolean {
    return this.#upload.isFinished && this.#upload.object === undefined && this.#upload.error?.code === "cancelled";
  }

  /** True once the request went out (its first progress event). */
  get #sent(): boolean {
    return this.#upload.outstandingId !== undefined || this.#upload.isFinished || this.#upload.error !== undefined;
  }
}

function translateSingle(event: SingleRequestEvent): EngineEvent {
  return event.type === "progress"
    ? { type: "progress", bytesSent: event.bytesSent, bytesPersisted: event.bytesPersisted }
    : { type: "retry", attempt: event.attempt, delayMs: event.delayMs, error: event.error };
}

/** How {@link FirstChunkEngine} builds the engine it decides on. */
export interface FirstChunkChoices {
  /** The first chunk's size: a source that ends below it goes in one request. */
  readonly chunkSize: number;
  /** The resumable engine, started when the first chunk fills. */
  readonly resumable: () => LayerEngine;
  /** The single-request engine for the whole body (the source ended before the first chunk filled). */
  readonly single: (body: readonly Uint8Array[]) => LayerEngine;
}

/**
 * Holds the first chunk until it knows which engine fits: when the source ends before `chunkSize`
 * bytes came, the whole object goes as one request ({@link SingleRequestEngine}); once `chunkSize`
 * bytes are in, a resumable session starts and the held bytes are its first writes, in order, by
 * reference. Before that nothing exists server-side: a cancel or abort ends it with nothing sent,
 * and there is no checkpoint (the `session` event comes only with a session).
 */
export class FirstChunkEngine implements LayerEngine {
  readonly done: Promise<ObjectResource>;
  readonly #choices: FirstChunkChoices;
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  #inner: LayerEngine | undefined;
  #stopped: UploadError | undefined;
  #resolveDone!: (object: ObjectResource) => void;
  #rejectDone!: (error: unknown) => void;

  /** Holds writes until the first chunk fills or the source ends. */
  constructor(choices: FirstChunkChoices) {
    this.#choices = choices;
    this.done = new Promise<ObjectResource>((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    this.done.catch(() => undefined);
  }

  get kind(): LayerEngine["kind"] {
    return this.#inner?.kind ?? "deciding";
  }

  /** See {@link LayerEngine.write}: held (resolved at once) until the first chunk is full. */
  write(bytes: Uint8Array): Promise<void> {
    if (this.#inner !== undefined) return this.#inner.write(bytes);
    if (this.#stopped !== undefined) return this.#rejected(this.#stopped);
    this.#held.push(bytes);
    this.#heldBytes += bytes.length;
    if (this.#heldBytes < this.#choices.chunkSize) return Promise.resolve();
    const engine = this.#start(this.#choices.resumable);
    if (engine === undefined) return this.#rejected(this.#stopped);
    const held = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    // The resumable engine queues each write at once and answers when it wants more: wait for the last.
    let last: Promise<void> = Promise.resolve();
    for (const piece of held) last = engine.write(piece);
    return last;
  }

  /** See {@link LayerEngine.end}: below one chunk, the whole object goes as one request. */
  end(): Promise<ObjectResource> {
    if (this.#inner !== undefined) return this.#inner.end();
    if (this.#stopped !== undefined) return this.done;
    const held = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    const engine = this.#start(() => this.#choices.single(held));
    return engine === undefined ? this.done : engine.end();
  }

  /** See {@link LayerEngine.cancel}: before a decision nothing was sent, so the upload just ends `cancelled`. */
  cancel(): Promise<void> {
    if (this.#inner !== undefined) return this.#inner.cancel();
    this.#stop(new UploadError("cancelled", "the upload was cancelled before anything was sent"));
    return Promise.resolve();
  }

  /** See {@link LayerEngine.abort}: before a decision nothing exists to keep. */
  abort(reason?: unknown): void {
    if (this.#inner !== undefined) return this.#inner.abort(reason);
    this.#stop(new UploadError("aborted", "the upload was aborted before anything was sent; nothing exists to resume", reason === undefined ? {} : { cause: reason }));
  }

  /** See {@link LayerEngine.checkpoint}. */
  checkpoint(): UploadCheckpoint | undefined {
    return this.#inner?.checkpoint();
  }

  get resumeOffset(): number {
    return 0;
  }

  get wantsData(): boolean {
    return this.#inner?.wantsData ?? this.#stopped === undefined;
  }

  get bytesBuffered(): number {
    return this.#inner?.bytesBuffered ?? this.#heldBytes;
  }

  get bytesSent(): number {
    return this.#inner?.bytesSent ?? 0;
  }

  get bytesPersisted(): number {
    return this.#inner?.bytesPersisted ?? 0;
  }

  get totalSize(): number | undefined {
    return this.#inner?.totalSize;
  }

  get object(): ObjectResource | undefined {
    return this.#inner?.object;
  }

  get cancelled(): boolean {
    return this.#inner?.cancelled ?? this.#stopped?.code === "cancelled";
  }

  /** Builds the chosen engine; if that throws (bad input only the bytes could reveal), the upload ends with the error. */
  #start(make: () => LayerEngine): LayerEngine | undefined {
    let engine: LayerEngine;
    try {
      engine = make();
    } catch (error) {
      this.#stop(error instanceof UploadError ? error : new UploadError("aborted", `the upload could not start: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
      return undefined;
    }
    this.#inner = engine;
    engine.done.then(this.#resolveDone, this.#rejectDone);
    return engine;
  }

  #stop(error: UploadError): void {
    if (this.#stopped !== undefined) return;
    this.#stopped = error;
    this.#held = [];
    this.#heldBytes = 0;
    this.#rejectDone(error);
  }

  #rejected(error: unknown): Promise<never> {
    const rejected = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    rejected.catch(() => undefined);
    return rejected;
  }
}
