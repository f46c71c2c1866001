/**
 * The resumable-upload state machine: sans-IO, in the manner of h11 and quinn-proto.
 *
 * The caller feeds it bytes (`write`, `end`) and outcomes (`onResponse`, `onError`), asks it what to
 * do next (`poll(now)`), and drains what it wants to tell (`pollEvent`). It performs no I/O, reads no
 * clock (time arrives as `now`), draws no randomness of its own (jitter comes from `options.random`).
 * The same inputs give the same actions, byte for byte.
 *
 * Rules (docs/protocol.md, session start to retry policy):
 *  1. One request at a time: the protocol is sequential. `poll` returns each `send` exactly once;
 *     until its outcome is reported it answers `in-flight`.
 *  2. The server's answer is the only truth. After any transient failure (408, 429, 500, 502, 503,
 *     504, network error, timeout, truncated response) the machine waits a backoff, then ASKS where
 *     the upload stands (status query) and continues from the answer. It never assumes what a broken
 *     request persisted.
 *  3. Bytes below the persisted offset are never sent again, and they are released at once: retained
 *     memory is exactly the unacknowledged bytes. A server that reports more than was ever sent is a
 *     protocol violation; one that reports less than the oldest retained byte has lost data.
 *  4. Every non-final chunk is exactly `chunkSize` bytes (a multiple of 256 KiB). End of data is
 *     decided only by `end()`: a short write never finalizes anything. The request that carries the
 *     total finalizes, and only it carries `X-Goog-Hash`. With an unknown total a full chunk is sent
 *     (`/*`) only once a byte beyond it is held, so an exact-multiple upload ends with its last chunk
 *     stating the total rather than with an extra empty `bytes *\/N` request.
 *  5. A machine that reached `done`, `failed`, `cancelled` or `aborted` stays there. Caller misuse
 *     throws at once ({@link UsageError}, {@link ValidationError}) and changes nothing; protocol and
 *     network problems come out of `poll` as a `failed` action.
 *  6. The running checksums cover exactly the acknowledged (released) bytes, each once, in order;
 *     the finalizing request digests a copy of them plus the retained tail, so no rewind can make
 *     a byte count twice.
 *
 * States, and what `poll` does in each:
 *
 * | state        | poll returns                                                    |
 * | ------------ | --------------------------------------------------------------- |
 * | `starting`   | send the session start (JSON API or signed URL)                 |
 * | `querying`   | send a status query                                             |
 * | `uploading`  | send the next chunk / the finalizing request, or `need-data`    |
 * | `backoff`    | `wait` until the backoff ends, then the state it was retrying   |
 * | `cancelling` | send the session DELETE (after any in-flight request settles)   |
 * | `done` / `failed` / `cancelled` / `aborted` | the same terminal action, forever |
 */
import { encodeBase64 } from "./base64.js";
import { ByteQueue } from "./byte-queue.js";
import { parseCheckpoint, type Checkpoint } from "./checkpoint.js";
import type { Checksum, Crc32cChecksum } from "./checksum.js";
import { UploadError, UsageError, ValidationError } from "./errors.js";
import type { UploadOptions } from "./options.js";
import {
  cancelRequest,
  cancelledStatuses,
  chunkRequest,
  describeRequest,
  errorForStatus,
  googHashValue,
  objectOf,
  persistedFromRange,
  queryRequest,
  sameBase64,
  startRequest,
  transientStatuses,
  type ObjectResource,
} from "./protocol.js";
import { resolveOptions, type ResolvedOptions } from "./resolve-options.js";
import type { TransportRequest, TransportResponse } from "./transport.js";

/** The machine's states (see the module header). */
export type MachineState =
  | "starting"
  | "querying"
  | "uploading"
  | "backoff"
  | "cancelling"
  | "done"
  | "failed"
  | "cancelled"
  | "aborted";

/** Why a request is sent. `finalize` is the request carrying the total (with data or empty). */
export type RequestPurpose = "start" | "chunk" | "finalize" | "query" | "cancel";

/** Send this request now, then report its outcome with `onResponse(id, …)` or `onError(id, …)`. */
export interface SendAction {
  readonly type: "send";
  /** Identifies the request in `onResponse` / `onError`. Never reused. */
  readonly id: number;
  /** The complete request. Its body views point into the caller's buffers: send, don't keep. */
  readonly request: TransportRequest;
  /** What the request is for. */
  readonly purpose: RequestPurpose;
  /** Abandon the request (report `onError(id, { kind: "timeout" })`) after this long without progress. */
  readonly idleTimeoutMs: number;
}

/** Backing off: call `poll` again at or after `until` (same scale as `now`). */
export interface WaitAction {
  readonly type: "wait";
  readonly until: number;
}

/** Nothing to send and nothing in flight: call `write` or `end`. */
export interface NeedDataAction {
  readonly type: "need-data";
}

/** A request is outstanding: wait for its outcome. */
export interface InFlightAction {
  readonly type: "in-flight";
}

/** The object is final and verified. */
export interface DoneAction {
  readonly type: "done";
  readonly object: ObjectResource;
}

/** The upload ended in failure (or was aborted: code `aborted`). */
export interface FailedAction {
  readonly type: "failed";
  readonly error: UploadError;
}

/** The upload was cancelled (its session deleted, if it had one). */
export interface CancelledAction {
  readonly type: "cancelled";
}

/** What the caller should do next; the answer to {@link UploadMachine.poll}. */
export type UploadAction = SendAction | WaitAction | NeedDataAction | InFlightAction | DoneAction | FailedAction | CancelledAction;

/** Alias of {@link UploadAction}. */
export type Action = UploadAction;

/** How a request failed to complete (a rejection from the transport, or the driver's stall timer). */
export type TransportErrorKind = "network" | "timeout" | "aborted" | "truncated";

/** The outcome of a request that did not complete; reported with {@link UploadMachine.onError}. */
export interface TransportFailure {
  /** What happened: all kinds mean "outcome unknown" and lead to a status query. */
  readonly kind: TransportErrorKind;
  /** The underlying error, kept as the `cause` of the resulting {@link UploadError}. */
  readonly cause?: unknown;
}

/** Something the adapter may want to know; drained with {@link UploadMachine.pollEvent}. */
export type UploadEvent =
  /** A session now exists (created, adopted or restored): the moment to save the checkpoint. */
  | { readonly type: "session"; readonly sessionUri: string; readonly checkpoint: Checkpoint }
  /** Bytes handed to the transport / confirmed by the server changed. `bytesPersisted` never decreases. */
  | { readonly type: "progress"; readonly bytesSent: number; readonly bytesPersisted: number }
  /** A request failed transiently; the machine waits `delayMs` and then asks where the upload stands. */
  | { readonly type: "retry"; readonly attempt: number; readonly delayMs: number; readonly error: UploadError }
  /** The server holds fewer bytes than were sent: sending resumes at `to` (bytes `from` and beyond were sent). */
  | { readonly type: "rewind"; readonly from: number; readonly to: number }
  /**
   * An adopted or restored session answered its first status query. The source is written from
   * `checkpointOffset`; bytes below `serverOffset` are absorbed into the checksum and not sent.
   * `md5Skipped`: MD5 was requested but cannot cover the bytes a former process sent.
   */
  | { readonly type: "resumed"; readonly checkpointOffset: number; readonly serverOffset: number; readonly md5Skipped: boolean }
  /** The DELETE of a cancelled session could not be confirmed; the session expires by itself in a week. */
  | { readonly type: "cancel-incomplete"; readonly error: UploadError };

interface InFlight {
  readonly action: SendAction;
  /** Stream range carried, for chunks and finalize; empty otherwise. */
  readonly from: number;
  readonly to: number;
  readonly carriesHash: boolean;
}

const NEED_DATA: NeedDataAction = { type: "need-data" };
const IN_FLIGHT: InFlightAction = { type: "in-flight" };
const CANCELLED: CancelledAction = { type: "cancelled" };
const failureKinds: ReadonlySet<string> = new Set<TransportErrorKind>(["network", "timeout", "aborted", "truncated"]);

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === "string" ? `a ${name}` : "an object";
  }
  return typeof value;
}

/**
 * The resumable-upload state machine. See the module header for its rules.
 *
 * @example
 * ```ts
 * const machine = new UploadMachine({ target: { kind: "json", bucket: "b", name: "o" }, random: Math.random });
 * machine.write(bytes);
 * machine.end();
 * for (;;) {
 *   const action = machine.poll(clock.now());
 *   if (action.type === "send") {
 *     transport.send(action.request, { signal }).then(
 *       (response) => machine.onResponse(action.id, response, clock.now()),
 *       (cause) => machine.onError(action.id, { kind: "network", cause }, clock.now()),
 *     );
 *   } // …wait, need-data, in-flight, done, failed, cancelled
 * }
 * ```
 */
export class UploadMachine {
  readonly #o: ResolvedOptions;
  #queue: ByteQueue;
  #state: MachineState;
  #sessionUri: string | undefined;
  #createdAt: number | undefined;
  /** The server's confirmed offset. Monotonic. May exceed the bytes written after a restore. */
  #persisted = 0;
  /** Highest stream offset ever handed to the transport (or known to be on the server). */
  #sent = 0;
  #ended = false;
  /** The total size: declared (option or checkpoint) or decided by `end()`. */
  #total: number | undefined;
  #declaredTotal: number | undefined;
  /** CRC32C / MD5 of bytes [0, queue.oldestOffset): exactly the released bytes. */
  #crc: Crc32cChecksum | undefined;
  #md5: Checksum | undefined;
  #md5Skipped = false;
  #resumeOffset = 0;
  /** Set while an adopted/restored session waits for its first status answer: the checkpoint's offset. */
  #awaitingResume: number | undefined;
  #inFlight: InFlight | undefined;
  /** The id of a request abandoned by a terminal transition; its late outcome is accepted and ignored. */
  #abandoned: number | undefined;
  #nextId = 1;
  #failures = 0;
  #recoveryStart: number | undefined;
  #backoffUntil = 0;
  #afterBackoff: "starting" | "querying" | "uploading" | "cancelling" = "querying";
  #cancelRequested = false;
  #object: ObjectResource | undefined;
  #error: UploadError | undefined;
  #events: UploadEvent[] = [];

  /**
   * @param options - validated at once.
   * @throws ValidationError naming the first malformed option.
   */
  constructor(options: UploadOptions) {
    this.#o = resolveOptions(options);
    this.#declaredTotal = this.#o.totalSize;
    this.#total = this.#o.totalSize;
    this.#queue = new ByteQueue(0);
    this.#crc = this.#o.crc32c?.(0);
    this.#md5 = this.#o.md5?.();
    const target = this.#o.target;
    if (target.kind === "session") {
      // A session minted elsewhere may already hold bytes: ask before sending any.
      this.#sessionUri = target.sessionUri;
      this.#awaitingResume = 0;
      this.#state = "querying";
      this.#emitSession();
    } else {
      this.#state = "starting";
    }
  }

  /**
   * Recreates a machine from a checkpoint (see {@link Checkpoint}). The options must describe the
   * same upload (the fingerprint must match). The restored machine begins with a status query; the
   * caller writes the source from {@link UploadMachine.resumeOffset}.
   *
   * @throws UploadError code `invalid-checkpoint` when the checkpoint is malformed or belongs to
   *   another upload; ValidationError when the options are malformed.
   */
  static restore(checkpoint: unknown, options: UploadOptions): UploadMachine {
    const parsed = parseCheckpoint(checkpoint);
    const machine = new UploadMachine(options);
    machine.#restore(parsed);
    return machine;
  }

  #restore(cp: Checkpoint): void {
    const o = this.#o;
    if (o.crc32c !== undefined && cp.crc32c === undefined) {
      throw new UploadError("invalid-checkpoint", "checkpoint: expected a crc32c (these options compute CRC32C), came none: it was taken without CRC32C");
    }
    if (cp.fingerprint !== o.fingerprint) {
      throw new UploadError(
        "invalid-checkpoint",
        `checkpoint: expected fingerprint ${o.fingerprint} (from these options), came ${cp.fingerprint}: it belongs to another upload (target, checksum or encryption key differ)`,
      );
    }
    if (o.totalSize !== undefined && cp.totalSize !== undefined && o.totalSize !== cp.totalSize) {
      throw new UploadError("invalid-checkpoint", `checkpoint: expected totalSize ${o.totalSize} (from the options), came ${cp.totalSize}`);
    }
    this.#declaredTotal = o.totalSize ?? cp.totalSize;
    this.#total = this.#declaredTotal;
    this.#sessionUri = cp.sessionUri;
    this.#createdAt = cp.createdAt;
    this.#queue = new ByteQueue(cp.persisted);
    this.#persisted = cp.persisted;
    this.#sent = cp.persisted;
    this.#resumeOffset = cp.persisted;
    this.#crc = o.crc32c?.(cp.crc32c ?? 0);
    // MD5 must see every byte from 0 in this process; its state cannot travel in a checkpoint.
    this.#md5 = cp.persisted === 0 ? o.md5?.() : undefined;
    this.#md5Skipped = o.md5 !== undefined && cp.persisted > 0;
    this.#awaitingResume = cp.persisted;
    this.#state = "querying";
    this.#events = [];
    this.#emitSession();
  }

  // ---------------------------------------------------------------------------------------------
  // Getters
  // ---------------------------------------------------------------------------------------------

  /** The current state (see the module header). */
  get state(): MachineState {
    return this.#state;
  }

  /** True once the machine reached `done`, `failed`, `cancelled` or `aborted` (it stays there). */
  get isFinished(): boolean {
    return this.#state === "done" || this.#state === "failed" || this.#state === "cancelled" || this.#state === "aborted";
  }

  /** Absolute stream offset just past the last byte written (starts at `resumeOffset`). */
  get bytesWritten(): number {
    return this.#queue.endOffset;
  }

  /** Highest stream offset ever handed to the transport (or found on the server after a restore). */
  get bytesSent(): number {
    return this.#sent;
  }

  /** Bytes the server has confirmed. Never decreases. */
  get bytesPersisted(): number {
    return this.#persisted;
  }

  /** Bytes held in memory (written, not yet acknowledged). */
  get bytesBuffered(): number {
    return this.#queue.retainedBytes;
  }

  /** Bytes per request. */
  get chunkSize(): number {
    return this.#o.chunkSize;
  }

  /** The total size once known (declared, or decided by `end()`). */
  get totalSize(): number | undefined {
    return this.#total;
  }

  /** The stream offset the source must be written from: 0, or the restored checkpoint's `persisted`. */
  get resumeOffset(): number {
    return this.#resumeOffset;
  }

  /**
   * The backpressure signal: true while the machine is ready for another `write` (or `end`): data is
   * not ended and fewer than `chunkSize` unsent bytes are buffered — with an unknown total, up to
   * `chunkSize` inclusive, since a full chunk is sent only once a byte beyond it (or `end()`) has
   * come (or the declared total is reached and only `end()` remains). Writes while false are
   * accepted but grow memory: wait.
   */
  get wantsData(): boolean {
    if (this.isFinished || this.#ended || this.#cancelRequested) return false;
    const end = this.#queue.endOffset;
    if (this.#declaredTotal !== undefined && end >= this.#declaredTotal) return true;
    const f = this.#inFlight;
    const cursor = f !== undefined && f.to > f.from ? f.to : this.#persisted;
    const unsent = end - cursor;
    return this.#declaredTotal === undefined ? unsent <= this.#o.chunkSize : unsent < this.#o.chunkSize;
  }

  /** The session URI (a secret), once a session exists. */
  get sessionUri(): string | undefined {
    return this.#sessionUri;
  }

  /** The final object resource, once `done`. */
  get object(): ObjectResource | undefined {
    return this.#object;
  }

  /** Why the upload ended, once `failed`, `aborted` (code `aborted`) or `cancelled` (code `cancelled`). */
  get error(): UploadError | undefined {
    return this.#error;
  }

  // ---------------------------------------------------------------------------------------------
  // Checkpoint
  // ---------------------------------------------------------------------------------------------

  /**
   * A JSON-serialisable snapshot to resume from in another process, or `undefined` when there is
   * nothing to resume (no session yet, or the upload is done or cancelled).
   */
  checkpoint(): Checkpoint | undefined {
    if (this.#sessionUri === undefined || this.#state === "done" || this.#state === "cancelled") return undefined;
    // The checkpoint claims only bytes it can checksum: the released ones (see rule 6).
    return {
      version: 1,
      sessionUri: this.#sessionUri,
      persisted: this.#queue.oldestOffset,
      chunkSize: this.#o.chunkSize,
      fingerprint: this.#o.fingerprint,
      ...(this.#crc === undefined ? {} : { crc32c: this.#crc.value() >>> 0 }),
      ...(this.#total === undefined ? {} : { totalSize: this.#total }),
      ...(this.#createdAt === undefined ? {} : { createdAt: this.#createdAt }),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Input
  // ---------------------------------------------------------------------------------------------

  /**
   * Hands the machine the next bytes of the source, by reference: do not modify `bytes` until they
   * are acknowledged. Empty arrays are accepted and ignored.
   *
   * @throws ValidationError when `bytes` is not a Uint8Array (nothing is converted).
   * @throws UsageError after `end()`, `cancel()`, or once the upload is finished, or when the write
   *   would exceed the declared total size.
   */
  write(bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) {
      throw new ValidationError("write(bytes)", `expected a Uint8Array, came ${describeValue(bytes)}`);
    }
    this.#assertOpen("write()");
    const end = this.#queue.endOffset;
    if (this.#declaredTotal !== undefined && end + bytes.length > this.#declaredTotal) {
      throw new UsageError(
        `write() of ${bytes.length} bytes after ${end}: expected at most ${this.#declaredTotal} bytes in all (the declared totalSize), came ${end + bytes.length}`,
      );
    }
    this.#queue.push(bytes);
    // After a restore the server may already hold bytes the source is only now replaying: they are
    // absorbed into the checksums and dropped, never sent.
    if (this.#persisted > this.#queue.oldestOffset) this.#release(Math.min(this.#persisted, this.#queue.endOffset));
  }

  /**
   * Declares the end of the source: the total is now `bytesWritten`. The only way an upload ends.
   *
   * @throws UsageError when already ended, cancelled or finished, or when the bytes written differ
   *   from the declared total size.
   */
  end(): void {
    this.#assertOpen("end()");
    const end = this.#queue.endOffset;
    if (this.#declaredTotal !== undefined && end !== this.#declaredTotal) {
      throw new UsageError(`end() after ${end} bytes: expected ${this.#declaredTotal} (the declared totalSize)`);
    }
    this.#ended = true;
    this.#total = end;
    if (this.#awaitingResume === undefined) this.#checkSourceCoversServer();
  }

  /**
   * Cancels the upload: the session (if any) is deleted with a DELETE request, then the machine ends
   * `cancelled`. A request in flight is let settle first. A chunk or query may be aborted (the driver
   * does); if it turns out to have finalized the object, the machine ends `done` instead: the object
   * exists. A session start should be let finish (the driver does not abort it): its answer tells
   * whether a session was created, which is then deleted; a start that fails or is aborted ends
   * `cancelled` at once. No-op once finished or already cancelling.
   */
  cancel(): void {
    if (this.isFinished || this.#cancelRequested) return;
    this.#cancelRequested = true;
    this.#failures = 0;
    this.#recoveryStart = undefined;
    if (this.#inFlight !== undefined || this.#sessionUri !== undefined) this.#state = "cancelling";
    else this.#finishCancelled();
  }

  /**
   * Stops at once without deleting the session: the machine ends `aborted` (a `failed` action with
   * code `aborted`), and `checkpoint()` still describes the session so another process can resume.
   * A request in flight is abandoned: its late outcome is accepted and ignored. No-op once finished.
   */
  abort(reason?: unknown): void {
    if (this.isFinished) return;
    this.#abandonInFlight();
    this.#state = "aborted";
    this.#error = new UploadError("aborted", "the upload was aborted by the caller; the session is kept and can be resumed from its checkpoint", {
      cause: reason,
      ...this.#sessionDetail(),
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Output
  // ---------------------------------------------------------------------------------------------

  /**
   * What to do next. Calling it again without new input returns the same logical action; a `send`
   * is returned exactly once per id.
   *
   * @param now - the caller's monotonic clock, ms.
   */
  poll(now: number): UploadAction {
    if (typeof now !== "number" || !Number.isFinite(now)) throw new ValidationError("poll(now)", `expected a finite number, came ${String(now)}`);
    switch (this.#state) {
      case "done":
        return { type: "done", object: this.#object! };
      case "failed":
      case "aborted":
        return { type: "failed", error: this.#error! };
      case "cancelled":
        return CANCELLED;
      default:
        break;
    }
    if (this.#inFlight !== undefined) return IN_FLIGHT;
    switch (this.#state) {
      case "starting":
        return this.#send("start", startRequest(this.#o, this.#declaredTotal ?? (this.#ended ? this.#total : undefined)));
      case "querying":
        return this.#send("query", queryRequest(this.#o, this.#sessionUri!, this.#total));
      case "backoff":
        if (now < this.#backoffUntil) return { type: "wait", until: this.#backoffUntil };
        this.#state = this.#afterBackoff;
        return this.poll(now);
      case "uploading":
        return this.#nextChunk();
      case "cancelling":
        if (this.#sessionUri === undefined) {
          this.#finishCancelled();
          return CANCELLED;
        }
        return this.#send("cancel", cancelRequest(this.#o, this.#sessionUri));
    }
  }

  /** The next event for the adapter, or `undefined` when there is none. Drain after every input. */
  pollEvent(): UploadEvent | undefined {
    return this.#events.shift();
  }

  /**
   * Decides the next chunk: full chunks until `end()`, then the finalizing request. With an unknown
   * total a full chunk waits for one byte beyond it, so the last full chunk can still become the
   * final one; the empty `bytes *\/N` finalize remains for a zero-byte object and for a server that
   * already holds every byte (a restored or adopted session).
   */
  #nextChunk(): UploadAction {
    const from = this.#persisted;
    const end = this.#queue.endOffset;
    const size = this.#o.chunkSize;
    if (from > end) return NEED_DATA; // a restored session's server is ahead of the source replay
    if (this.#ended) {
      const total = this.#total!;
      if (total - from > size) return this.#sendChunk(from, from + size, false);
      return this.#sendChunk(from, total, true);
    }
    if (this.#declaredTotal === undefined) {
      // Unknown total: a full chunk goes out with `/*` only once a byte beyond it is held. If the data
      // ends right there instead, end() makes it the final chunk (`/total`, X-Goog-Hash), which saves
      // the empty `bytes */N` finalize an exact-multiple upload would otherwise need.
      if (end - from > size) return this.#sendChunk(from, from + size, false);
      return NEED_DATA;
    }
    // Known total: every chunk states it. The chunk that would reach it finalizes the object: only
    // end() may do that.
    if (end - from >= size && from + size < this.#declaredTotal) return this.#sendChunk(from, from + size, false);
    return NEED_DATA;
  }

  #sendChunk(from: number, to: number, final: boolean): SendAction {
    const body = this.#queue.views(from, to);
    let hash: string | undefined;
    if (final) {
      // Digest copies of the acknowledged-bytes state plus the retained tail: the live state must
      // keep covering only acknowledged bytes, whatever this request's fate.
      let crc: Checksum | undefined;
      let md5: Checksum | undefined;
      if (this.#crc !== undefined) crc = this.#crc.clone();
      if (this.#md5 !== undefined) md5 = this.#md5.clone();
      for (const view of body) {
        crc?.update(view);
        md5?.update(view);
      }
      hash = googHashValue(crc?.digest(), md5?.digest());
    }
    const request = chunkRequest(this.#o, this.#sessionUri!, from, to, body, this.#total, hash);
    const action = this.#send(final ? "finalize" : "chunk", request, from, to, hash !== undefined);
    if (to > this.#sent) {
      this.#sent = to;
      this.#events.push({ type: "progress", bytesSent: this.#sent, bytesPersisted: this.#persisted });
    }
    return action;
  }

  #send(purpose: RequestPurpose, request: TransportRequest, from = 0, to = 0, carriesHash = false): SendAction {
    const action: SendAction = { type: "send", id: this.#nextId++, request, purpose, idleTimeoutMs: this.#o.retry.idleTimeoutMs };
    this.#inFlight = { action, from, to, carriesHash };
    return action;
  }

  // ---------------------------------------------------------------------------------------------
  // Event handlers: one switch per state
  // ---------------------------------------------------------------------------------------------

  /**
   * Reports the complete response to request `id`.
   *
   * @throws UsageError when `id` is not the outstanding request (or was already reported).
   * @throws ValidationError when `response` is not a response.
   */
  onResponse(id: number, response: TransportResponse, now: number): void {
    if (typeof response !== "object" || response === null || typeof response.status !== "number" || typeof response.headers !== "object" || typeof response.body !== "string") {
      throw new ValidationError("onResponse(response)", `expected { status: number, headers: object, body: string }, came ${describeValue(response)}`);
    }
    const f = this.#settle(id, "onResponse");
    if (f === undefined) return;
    const status = response.status;
    switch (this.#state) {
      case "starting":
        if (status === 200 || status === 201) {
          const location = response.headers.location;
          if (location === undefined || !/^https?:\/\/\S+$/i.test(location.trim())) {
            return this.#fail(
              new UploadError(
                "protocol-violation",
                `${describeRequest(f.action.request)}: expected ${status} with a Location header holding the session URI, came ${location === undefined ? "none" : "a Location that is not an absolute URL"}`,
                { status },
              ),
            );
          }
          this.#sessionUri = location.trim();
          this.#createdAt = now;
          this.#state = "uploading";
          this.#progressed();
          this.#emitSession();
          return;
        }
        if (transientStatuses.has(status)) return this.#retry(now, this.#transientStatusError(f, response), "starting");
        return this.#fail(errorForStatus(f.action.request, response, true, false, undefined));

      case "querying":
      case "uploading":
        if (status === 308) return this.#onIncomplete(f, response, now);
        if (status === 200 || status === 201) return this.#onFinal(f, response);
        if (transientStatuses.has(status)) return this.#retry(now, this.#transientStatusError(f, response), "querying");
        return this.#fail(errorForStatus(f.action.request, response, false, f.carriesHash, this.#sessionUri));

      case "cancelling":
        switch (f.action.purpose) {
          case "cancel":
            if (cancelledStatuses.has(status)) return this.#finishCancelled();
            if (transientStatuses.has(status)) return this.#retry(now, this.#transientStatusError(f, response), "cancelling");
            this.#events.push({ type: "cancel-incomplete", error: errorForStatus(f.action.request, response, false, false, this.#sessionUri) });
            return this.#finishCancelled();
          case "start": {
            const location = response.headers.location;
            // The session exists even though the caller no longer wants it: learn it, to delete it.
            if ((status === 200 || status === 201) && location !== undefined && /^https?:\/\/\S+$/i.test(location.trim())) {
              this.#sessionUri = location.trim();
            } else if (this.#sessionUri === undefined) {
              this.#finishCancelled();
            }
            return;
          }
          default:
            // A final answer means the object was committed before the cancel reached it.
            if (status === 200 || status === 201) return this.#onFinal(f, response);
            return;
        }

      default:
        // backoff/terminal states have nothing in flight; #settle returned undefined for them.
        return;
    }
  }

  /**
   * Reports that request `id` did not complete: a transport rejection (`network`, `truncated`,
   * `aborted`) or the driver's stall timer (`timeout`). The outcome is unknown: the machine backs off
   * and asks the server.
   *
   * @throws UsageError when `id` is not the outstanding request.
   * @throws ValidationError when `failure.kind` is not one of the kinds.
   */
  onError(id: number, failure: TransportFailure, now: number): void {
    if (typeof failure !== "object" || failure === null || !failureKinds.has(failure.kind)) {
      throw new ValidationError("onError(failure)", `expected { kind: "network" | "timeout" | "aborted" | "truncated" }, came ${describeValue(failure)}`);
    }
    const f = this.#settle(id, "onError");
    if (f === undefined) return;
    const error = new UploadError("transient", `${describeRequest(f.action.request)}: ${this.#failureText(failure.kind)}`, {
      cause: failure.cause,
      ...this.#sessionDetail(),
    });
    switch (this.#state) {
      case "starting":
        return this.#retry(now, error, "starting");
      case "querying":
      case "uploading":
        return this.#retry(now, error, "querying");
      case "cancelling":
        if (f.action.purpose === "cancel") return this.#retry(now, error, "cancelling");
        if (f.action.purpose === "start" && this.#sessionUri === undefined) return this.#finishCancelled();
        return;
      default:
        return;
    }
  }

  /** A 308: the server holds `persisted` bytes and waits for more. */
  #onIncomplete(f: InFlight, response: TransportResponse, now: number): void {
    const range = response.headers.range;
    const persisted = persistedFromRange(range);
    const what = describeRequest(f.action.request);
    if (persisted === undefined) {
      return this.#fail(new UploadError("protocol-violation", `${what}: expected 308 with "Range: bytes=0-N" or no Range, came Range "${range}"`, this.#sessionDetail(308)));
    }
    if (this.#awaitingResume !== undefined) {
      const from = this.#awaitingResume;
      if (persisted < from) {
        return this.#fail(
          new UploadError("data-lost", `${what}: the checkpoint says ${from} bytes were persisted, the server now holds only ${persisted}; those bytes are gone from memory`, this.#sessionDetail(308)),
        );
      }
      if (this.#declaredTotal !== undefined && persisted > this.#declaredTotal) {
        return this.#fail(
          new UploadError("protocol-violation", `${what}: the server holds ${persisted} bytes, more than the declared total size ${this.#declaredTotal}`, this.#sessionDetail(308)),
        );
      }
      this.#awaitingResume = undefined;
      this.#events.push({ type: "resumed", checkpointOffset: from, serverOffset: persisted, md5Skipped: this.#md5Skipped });
      this.#sent = Math.max(this.#sent, persisted);
      this.#state = "uploading";
      if (persisted > this.#persisted) this.#advance(persisted);
      if (this.#ended) this.#checkSourceCoversServer();
      return;
    }
    if (persisted > this.#sent) {
      return this.#fail(
        new UploadError("protocol-violation", `${what}: the server reports ${persisted} bytes persisted, but only ${this.#sent} were ever sent`, this.#sessionDetail(308)),
      );
    }
    if (persisted < this.#persisted) {
      return this.#fail(
        new UploadError(
          "data-lost",
          `${what}: the server had confirmed ${this.#persisted} bytes, now reports ${persisted}; bytes below ${this.#queue.oldestOffset} were released and cannot be resent`,
          this.#sessionDetail(308),
        ),
      );
    }
    if (persisted < this.#sent) this.#events.push({ type: "rewind", from: this.#sent, to: persisted });
    const advanced = persisted > this.#persisted;
    this.#state = "uploading";
    if (advanced) this.#advance(persisted);
    else if (f.to > f.from || f.action.purpose === "finalize") {
      // The server kept none of what was just sent: count it as a failed attempt, or a server that
      // always answers so would keep this machine sending forever.
      const error = new UploadError(
        "transient",
        `${what}: expected the server to keep some of the ${f.to - f.from} bytes sent, came 308 with the persisted offset still at ${persisted}`,
        this.#sessionDetail(308),
      );
      this.#retry(now, error, "uploading");
    }
  }

  /** A 200/201 to a session request: the object is final. Verify it, then done. */
  #onFinal(f: InFlight, response: TransportResponse): void {
    const what = describeRequest(f.action.request);
    const status = response.status;
    const object = objectOf(response);
    if (typeof object === "string") return this.#fail(new UploadError("protocol-violation", `${what}: ${object}`, this.#sessionDetail(status)));
    let size: number | undefined;
    if (object.size !== undefined) {
      size = typeof object.size === "string" && /^\d{1,16}$/.test(object.size) ? Number(object.size) : Number.NaN;
      if (!Number.isSafeInteger(size)) {
        return this.#fail(new UploadError("protocol-violation", `${what}: expected the object's size as a decimal string, came ${JSON.stringify(object.size)}`, this.#sessionDetail(status)));
      }
    } else if (this.#o.target.kind === "json") {
      return this.#fail(new UploadError("protocol-violation", `${what}: expected the object resource to state its size, came none`, this.#sessionDetail(status)));
    }

    if (this.#awaitingResume !== undefined && !(this.#ended && size === this.#total)) {
      // A former process finalized the object before it could record so. Its finalizing request
      // carried the checksum; all that can be checked here is the size.
      if (size !== undefined && ((this.#total !== undefined && size !== this.#total) || size < this.#awaitingResume)) {
        return this.#fail(
          new UploadError(
            "protocol-violation",
            `${what}: the session's object is already final with ${size} bytes, expected ${this.#total ?? `at least ${this.#awaitingResume}`}`,
            this.#sessionDetail(status),
          ),
        );
      }
      this.#events.push({ type: "resumed", checkpointOffset: this.#awaitingResume, serverOffset: size ?? this.#awaitingResume, md5Skipped: this.#md5Skipped });
      this.#awaitingResume = undefined;
      return this.#finishDone(object, size ?? this.#persisted);
    }

    if (!this.#ended) {
      return this.#fail(
        new UploadError(
          "protocol-violation",
          `${what}: the server finalized the object${size === undefined ? "" : ` at ${size} bytes`}, but end() has not been called (${this.#queue.endOffset} bytes written so far)`,
          this.#sessionDetail(status),
        ),
      );
    }
    const total = this.#total!;
    if (size !== undefined && size !== total) {
      return this.#fail(new UploadError("protocol-violation", `${what}: expected an object of ${total} bytes, came one of ${size}`, this.#sessionDetail(status)));
    }
    if (this.#awaitingResume === undefined && total > this.#sent) {
      return this.#fail(
        new UploadError("protocol-violation", `${what}: the server finalized ${total} bytes, but only ${this.#sent} were ever sent`, this.#sessionDetail(status)),
      );
    }
    // Full checksums: acknowledged state (copied) plus every retained byte up to the end.
    const tail = this.#queue.views(this.#queue.oldestOffset, this.#queue.endOffset);
    if (this.#crc !== undefined && typeof object.crc32c === "string") {
      const crc = this.#crc.clone();
      for (const view of tail) crc.update(view);
      const ours = crc.digest();
      if (!sameBase64(object.crc32c, ours)) {
        return this.#fail(
          new UploadError("checksum-mismatch", `${what}: expected the object's CRC32C to be ${encodeBase64(ours)}, came ${object.crc32c}`, this.#sessionDetail(status)),
        );
      }
    }
    if (this.#md5 !== undefined && typeof object.md5Hash === "string") {
      const md5 = this.#md5.clone();
      for (const view of tail) md5.update(view);
      const ours = md5.digest();
      if (!sameBase64(object.md5Hash, ours)) {
        return this.#fail(
          new UploadError("checksum-mismatch", `${what}: expected the object's MD5 to be ${encodeBase64(ours)}, came ${object.md5Hash}`, this.#sessionDetail(status)),
        );
      }
    }
    this.#awaitingResume = undefined;
    this.#finishDone(object, total);
  }

  // ---------------------------------------------------------------------------------------------
  // Transitions
  // ---------------------------------------------------------------------------------------------

  /** Takes the outstanding request `id`; `undefined` when it was abandoned by a terminal transition. */
  #settle(id: number, call: string): InFlight | undefined {
    const f = this.#inFlight;
    if (f !== undefined && f.action.id === id) {
      this.#inFlight = undefined;
      return f;
    }
    if (this.#abandoned === id) {
      this.#abandoned = undefined;
      return undefined;
    }
    throw new UsageError(`${call}(${String(id)}): expected the id of the outstanding request (${f === undefined ? "there is none" : f.action.id}), came one that is unknown or already settled`);
  }

  /** The persisted offset advanced: release, absorb, reset the retry budget. */
  #advance(persisted: number): void {
    this.#persisted = persisted;
    const releasable = Math.min(persisted, this.#queue.endOffset);
    if (releasable > this.#queue.oldestOffset) this.#release(releasable);
    this.#progressed();
    this.#events.push({ type: "progress", bytesSent: this.#sent, bytesPersisted: persisted });
  }

  /** Drops acknowledged bytes, feeding them to the running checksums first (each byte exactly once). */
  #release(upTo: number): void {
    const crc = this.#crc;
    const md5 = this.#md5;
    for (const view of this.#queue.release(upTo)) {
      crc?.update(view);
      md5?.update(view);
    }
  }

  /** Progress ends a recovery: the attempt budget and the deadline start afresh. */
  #progressed(): void {
    this.#failures = 0;
    this.#recoveryStart = undefined;
  }

  /** A transient failure: back off, then `next`; or give up when the budget or the deadline is spent. */
  #retry(now: number, error: UploadError, next: "starting" | "querying" | "uploading" | "cancelling"): void {
    const retry = this.#o.retry;
    this.#failures += 1;
    const attempt = this.#failures;
    const giveUp = (code: "retries-exhausted" | "deadline-exceeded", message: string): void => {
      const final = new UploadError(code, `${message}; last error: ${error.message}`, {
        cause: error,
        ...(error.status === undefined ? {} : { status: error.status }),
        ...(error.serverMessage === undefined ? {} : { serverMessage: error.serverMessage }),
        ...this.#sessionDetail(),
      });
      if (next === "cancelling") {
        this.#events.push({ type: "cancel-incomplete", error: final });
        this.#finishCancelled();
      } else {
        this.#fail(final);
      }
    };
    if (attempt >= retry.maxAttempts) {
      return giveUp("retries-exhausted", `gave up after ${attempt} failed attempt${attempt === 1 ? "" : "s"} in a row without progress (persisted offset ${this.#persisted}, maxAttempts ${retry.maxAttempts})`);
    }
    this.#recoveryStart ??= now;
    const delay = this.#backoff(attempt);
    if (now + delay - this.#recoveryStart > retry.deadlineMs) {
      return giveUp(
        "deadline-exceeded",
        `no progress for ${now - this.#recoveryStart} ms; the next retry (in ${delay} ms) would begin after the ${retry.deadlineMs} ms deadline (persisted offset ${this.#persisted})`,
      );
    }
    this.#backoffUntil = now + delay;
    this.#afterBackoff = next;
    this.#state = "backoff";
    this.#events.push({ type: "retry", attempt, delayMs: delay, error });
  }

  /** `min(maxDelay, initial · multiplier^(attempt-1))`, jittered by the injected random source. */
  #backoff(attempt: number): number {
    const { initialDelayMs, maxDelayMs, multiplier, jitter } = this.#o.retry;
    const base = Math.min(maxDelayMs, initialDelayMs * multiplier ** (attempt - 1));
    if (jitter === "none") return Math.round(base);
    const drawn = Number(this.#o.random());
    // A misbehaving random source must not produce a negative or infinite wait.
    const r = Number.isFinite(drawn) ? Math.min(Math.max(drawn, 0), 1) : 0.5;
    return Math.round(jitter === "full" ? r * base : base / 2 + (r * base) / 2);
  }

  #fail(error: UploadError): void {
    this.#abandonInFlight();
    this.#state = "failed";
    this.#error = error;
  }

  #finishDone(object: ObjectResource, total: number): void {
    this.#persisted = Math.max(this.#persisted, total);
    this.#sent = Math.max(this.#sent, total);
    // Nothing will be resent: let the caller's buffers go (the checksums are no longer needed).
    this.#queue.release(this.#queue.endOffset);
    this.#object = object;
    this.#state = "done";
    this.#events.push({ type: "progress", bytesSent: this.#sent, bytesPersisted: this.#persisted });
  }

  #finishCancelled(): void {
    this.#abandonInFlight();
    this.#state = "cancelled";
    this.#error = new UploadError(
      "cancelled",
      this.#sessionUri === undefined ? "the upload was cancelled before a session existed" : "the upload was cancelled and its session deleted",
      this.#sessionDetail(),
    );
  }

  #abandonInFlight(): void {
    if (this.#inFlight !== undefined) {
      this.#abandoned = this.#inFlight.action.id;
      this.#inFlight = undefined;
    }
  }

  /** After a restore, the source must reach the offset the server already holds. */
  #checkSourceCoversServer(): void {
    const end = this.#queue.endOffset;
    if (this.#ended && this.#persisted > end) {
      this.#fail(
        new UploadError(
          "invalid-checkpoint",
          `the source ended at ${end} bytes, but the server already holds ${this.#persisted} bytes of this upload: this is not the source the session was started with`,
          this.#sessionDetail(),
        ),
      );
    }
  }

  #assertOpen(call: string): void {
    if (this.isFinished) {
      throw new UsageError(`${call} after the upload ${this.#state === "failed" ? "failed" : `was ${this.#state}`}: expected an upload in progress`, {
        ...(this.#error === undefined ? {} : { cause: this.#error }),
      });
    }
    if (this.#cancelRequested) throw new UsageError(`${call} after cancel(): expected an upload in progress`);
    if (this.#ended) throw new UsageError(`${call} after end(): the upload's length was already decided`);
  }

  #emitSession(): void {
    const checkpoint = this.checkpoint();
    if (checkpoint !== undefined) this.#events.push({ type: "session", sessionUri: checkpoint.sessionUri, checkpoint });
  }

  #sessionDetail(status?: number): { sessionUri?: string; status?: number } {
    return {
      ...(this.#sessionUri === undefined ? {} : { sessionUri: this.#sessionUri }),
      ...(status === undefined ? {} : { status }),
    };
  }

  #transientStatusError(f: InFlight, response: TransportResponse): UploadError {
    const error = errorForStatus(f.action.request, response, false, false, undefined);
    const came = `came ${response.status}${error.serverMessage === undefined ? "" : ` "${error.serverMessage}"`}`;
    return new UploadError("transient", `${describeRequest(f.action.request)}: expected a definitive answer, ${came} (transient)`, {
      status: response.status,
      ...(error.serverMessage === undefined ? {} : { serverMessage: error.serverMessage }),
      ...this.#sessionDetail(),
    });
  }

  #failureText(kind: TransportErrorKind): string {
    switch (kind) {
      case "network":
        return "the connection failed before a complete response arrived (outcome unknown)";
      case "timeout":
        return `no progress for ${this.#o.retry.idleTimeoutMs} ms: the request stalled and was abandoned (outcome unknown)`;
      case "aborted":
        return "the request was aborted before it completed (outcome unknown)";
      case "truncated":
        return "the response was cut short (outcome unknown)";
    }
  }
}
