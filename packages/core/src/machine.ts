/**
 * The resumable-upload state machine: sans-IO, in the manner of h11 and quinn-proto.
 *
 * The caller feeds it bytes (`write`, `end`) and outcomes (`onResponse`, `onError`), asks it what to
 * do next (`poll(now)`), and drains what it wants to tell (`pollEvent`). It performs no I/O, reads no
 * clock (time arrives as `now`), draws no randomness of its own (jitter comes from `options.random`).
 * The same inputs give the same actions, byte for byte.
 *
 * Rules (PROTOCOL.md sections 1–6):
 *  1. One request at a time. `poll` returns each `send` exactly once; until its outcome is reported
 *     it answers `in-flight`. The request in flight is part of the phase that sent it.
 *  2. The server's answer is the only truth. After a transient failure (see `retry-policy.ts`) the
 *     machine backs off, then ASKS where the upload stands and continues from the answer. A final
 *     answer whose object resource is cut short is such a failure too: the object may exist.
 *  3. Bytes below the persisted offset are never sent again and are released at once: retained
 *     memory is exactly the unacknowledged bytes. A server that reports more than was ever sent is a
 *     protocol violation; one that reports less than the oldest retained byte has lost data.
 *  4. Every non-final chunk is exactly `chunkSize` bytes. End of data is decided only by `end()`.
 *     The request that carries the total finalizes, and only it carries `X-Goog-Hash`. With an
 *     unknown total a full chunk is sent (`/*`) only once a byte beyond it is held, so an
 *     exact-multiple upload ends with its last chunk stating the total.
 *  5. A terminal phase is final. Caller misuse throws at once ({@link UsageError},
 *     {@link ValidationError}) and changes nothing; protocol and network problems end in `failed`.
 *  6. Checksums: see `checksum-ledger.ts`. Every digest asked for is verified against the object.
 *  7. An object resource in any answer means the object exists: it is verified and the machine ends
 *     `done`, also when it was committed before a `cancel()` (`committedBeforeCancel`), and also when
 *     an adopted or restored session turns out final (`verifying`: the rest of the source is read to
 *     compare size and CRC32C). Nothing that exists is reported cancelled or failed for that reason.
 *  8. Credentials: a first 401 is re-sent once with `refreshCredentials`; a 401 to that retry, or a
 *     403, fails `unauthorized`. A transport that cannot obtain credentials (`auth`) fails at once.
 *
 * Phases, with their data, what `poll` does, and where each outcome leads:
 *
 * | phase | data | poll | outcome → next phase |
 * | --- | --- | --- | --- |
 * | `starting` | inFlight? | send the session start | Location → `uploading`; transient → `backoff`; else `failed` |
 * | `resuming` | checkpointOffset, inFlight? | send a status query | 308 → `uploading`; object → `verifying`; transient → `backoff`; else `failed` |
 * | `querying` | reason, inFlight? | send a status query | 308 → `uploading`; object → `done`; transient → `backoff`; else `failed` |
 * | `uploading` | inFlight? | send the next chunk / the finalize, or `need-data` | 308 → `uploading` (rewound if short); object → `done`; transient or cut object → `backoff`; else `failed` |
 * | `verifying` | object, size | `need-data` until `end()` | `end()`: size and CRC32C match → `done`, else `failed` |
 * | `backoff` | until, then | `wait` until `until`, then become `then` | — |
 * | `cancelling` | pending? | let `pending` settle, then send the DELETE | object → `done` (committed before cancel); gone → `cancelled`; transient → `backoff` |
 * | `done` / `failed` / `cancelled` / `aborted` | object or error | the same terminal action, forever | — |
 */
import { ByteQueue } from "./byte-queue.js";
import { ChecksumLedger } from "./checksum-ledger.js";
import { parseCheckpoint, isoTimestamp, sealCheckpoint, type Checkpoint } from "./checkpoint.js";
import { describeValue } from "./describe.js";
import { UploadError, UsageError, ValidationError, type UploadErrorCode } from "./errors.js";
import type { UploadOptions } from "./options.js";
import {
  cancelRequest,
  cancelledStatuses,
  chunkRequest,
  describeRequest,
  errorForStatus,
  finalObjectOf,
  googHashValue,
  persistedFromRange,
  queryRequest,
  serverMessageOf,
  sessionLocationOf,
  startRequest,
  type ObjectResource,
} from "./protocol.js";
import { resolveOptions, type ResolvedOptions } from "./resolve-options.js";
import { RetryPolicy, isTransientFailure, isTransientStatus, type TransportFailureKind } from "./retry-policy.js";
import type { TransportRequest, TransportResponse } from "./transport.js";

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
  /** Ask the auth source to refresh before sending: set on the one retry after a first 401. */
  readonly refreshCredentials?: boolean;
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
  /** True when `cancel()` came too late: the object had been committed before it took effect. */
  readonly committedBeforeCancel: boolean;
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

/** How a request failed to complete (a transport rejection, or the driver's stall timer). */
export type TransportErrorKind = TransportFailureKind;

/** The outcome of a request that did not complete; reported with {@link UploadMachine.onError}. */
export interface TransportFailure {
  /** What happened: `auth` ends the upload; every other kind means "outcome unknown": ask the server. */
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

/** A request in flight: the action, the stream range it carries (chunks), and when it was sent. */
interface Pending {
  readonly action: SendAction;
  readonly from: number;
  readonly to: number;
  readonly sentAt: number;
}

/** Why a status query is being sent (after a backoff). */
type QueryReason = "recover" | "final-unconfirmed";

/** The phase a backoff returns to. */
type RetryTarget =
  | { readonly name: "starting" }
  | { readonly name: "resuming"; readonly checkpointOffset: number }
  | { readonly name: "querying"; readonly reason: QueryReason }
  | { readonly name: "uploading" }
  | { readonly name: "cancelling" };

/** The whole state of the machine's control flow (see the table in the module header). */
type Phase =
  | { readonly name: "starting"; readonly inFlight?: Pending }
  | { readonly name: "resuming"; readonly checkpointOffset: number; readonly inFlight?: Pending }
  | { readonly name: "querying"; readonly reason: QueryReason; readonly inFlight?: Pending }
  | { readonly name: "uploading"; readonly inFlight?: Pending }
  /** `size`: the object's, when it states one (the XML API may not). */
  | { readonly name: "verifying"; readonly object: ObjectResource; readonly size: number | undefined }
  | { readonly name: "backoff"; readonly until: number; readonly then: RetryTarget }
  | { readonly name: "cancelling"; readonly pending?: Pending }
  | { readonly name: "done"; readonly object: ObjectResource; readonly committedBeforeCancel: boolean }
  /** `abandoned`: the id of a request left in flight; its late outcome is accepted and ignored once. */
  | { readonly name: "failed" | "cancelled" | "aborted"; readonly error: UploadError; readonly abandoned?: number };

/** The machine's phases (see the module header). */
export type MachineState = Phase["name"];

const NEED_DATA: NeedDataAction = { type: "need-data" };
const IN_FLIGHT: InFlightAction = { type: "in-flight" };
const CANCELLED: CancelledAction = { type: "cancelled" };
const UPLOADING = { name: "uploading" } as const satisfies Phase;
const failureKinds: ReadonlySet<string> = new Set<TransportErrorKind>(["network", "timeout", "aborted", "truncated", "auth"]);

/** The phase that sent a request, once its outcome is in: the same phase, with nothing in flight. */
function withoutRequest(phase: Phase): Phase {
  switch (phase.name) {
    case "starting":
      return { name: "starting" };
    case "resuming":
      return { name: "resuming", checkpointOffset: phase.checkpointOffset };
    case "querying":
      return { name: "querying", reason: phase.reason };
    case "uploading":
      return UPLOADING;
    case "cancelling":
      return { name: "cancelling" };
    default:
      return phase;
  }
}

function isFinal(status: number): boolean {
  return status === 200 || status === 201;
}

/**
 * The resumable-upload state machine. See the module header for its rules and phases.
 *
 * @example
 * ```ts
 * const machine = new UploadMachine({ target: { kind: "json", bucket: "b", name: "o" }, random: Math.random });
 * machine.write(bytes);
 * machine.end();
 * for (;;) {
 *   const action = machine.poll(clock.now());
 *   if (action.type === "send") {
 *     transport.send(action.request, options).then(
 *       (response) => machine.onResponse(action.id, response, clock.now()),
 *       (cause) => machine.onError(action.id, { kind: "network", cause }, clock.now()),
 *     );
 *   } // …wait, need-data, in-flight, done, failed, cancelled
 * }
 * ```
 */
export class UploadMachine {
  readonly #options: ResolvedOptions;
  readonly #retry: RetryPolicy;
  #phase: Phase;
  #queue: ByteQueue;
  #ledger: ChecksumLedger;
  #sessionUri: string | undefined;
  #createdAt: string | undefined;
  /** The server's confirmed offset. Monotonic. May exceed the bytes written after a restore. */
  #persisted = 0;
  /** Highest stream offset ever handed to the transport (or known to be on the server). */
  #highestSent = 0;
  /** The total size fixed before the data ends: by the options or a checkpoint. */
  #declaredTotal: number | undefined;
  /** The total decided by `end()`; `undefined` until then. */
  #endedAt: number | undefined;
  #resumeOffset = 0;
  /** The next request asks for fresh credentials (rule 8): a property of that request, not a phase. */
  #refreshCredentialsNext = false;
  #nextId = 1;
  #events: UploadEvent[] = [];

  /**
   * @param options - validated at once.
   * @throws ValidationError naming the first malformed option.
   */
  constructor(options: UploadOptions) {
    this.#options = resolveOptions(options);
    this.#retry = new RetryPolicy(this.#options.retry, this.#options.random);
    this.#declaredTotal = this.#options.totalSize;
    this.#queue = new ByteQueue(0);
    this.#ledger = new ChecksumLedger(this.#options);
    const target = this.#options.target;
    if (target.kind === "session") {
      // A session minted elsewhere may already hold bytes (or be final): ask before sending any.
      this.#sessionUri = target.sessionUri;
      this.#phase = { name: "resuming", checkpointOffset: 0 };
      this.#emitSession();
    } else {
      this.#phase = { name: "starting" };
    }
  }

  /**
   * Recreates a machine from a checkpoint (see {@link Checkpoint}; version 1 is read too). The
   * options must describe the same upload (the fingerprint must match). The restored machine begins
   * with a status query; the caller writes the source from {@link UploadMachine.resumeOffset}.
   *
   * @throws UploadError code `invalid-checkpoint` when the checkpoint is malformed, edited, or
   *   belongs to another upload; ValidationError when the options are malformed.
   */
  static restore(checkpoint: unknown, options: UploadOptions): UploadMachine {
    const parsed = parseCheckpoint(checkpoint);
    const machine = new UploadMachine(options);
    machine.#restore(parsed);
    return machine;
  }

  #restore(checkpoint: Checkpoint): void {
    const options = this.#options;
    const refuse = (message: string): UploadError => new UploadError("invalid-checkpoint", `checkpoint: ${message}`);
    if (options.crc32c !== undefined && checkpoint.crc32c === undefined) {
      throw refuse("expected a crc32c (these options compute CRC32C), came none: it was taken without CRC32C");
    }
    if (checkpoint.fingerprint !== options.fingerprint) {
      throw refuse(
        `expected fingerprint ${options.fingerprint} (from these options), came ${checkpoint.fingerprint}: it belongs to another upload (target, checksum or encryption key differ)`,
      );
    }
    if (options.totalSize !== undefined && checkpoint.totalSize !== undefined && options.totalSize !== checkpoint.totalSize) {
      throw refuse(`expected totalSize ${options.totalSize} (from the options), came ${checkpoint.totalSize}`);
    }
    const offset = checkpoint.resumeOffset;
    this.#declaredTotal = options.totalSize ?? checkpoint.totalSize;
    this.#sessionUri = checkpoint.sessionUri;
    this.#createdAt = checkpoint.createdAt;
    this.#queue = new ByteQueue(offset);
    this.#ledger = new ChecksumLedger(options, { offset, ...(checkpoint.crc32c === undefined ? {} : { crc32c: checkpoint.crc32c }) });
    this.#persisted = offset;
    this.#highestSent = offset;
    this.#resumeOffset = offset;
    this.#phase = { name: "resuming", checkpointOffset: offset };
    this.#events = [];
    this.#emitSession();
  }

  // ---------------------------------------------------------------------------------------------
  // Getters
  // ---------------------------------------------------------------------------------------------

  /** The current phase's name (see the module header). */
  get state(): MachineState {
    return this.#phase.name;
  }

  /** True once the machine reached `done`, `failed`, `cancelled` or `aborted` (it stays there). */
  get isFinished(): boolean {
    const name = this.#phase.name;
    return name === "done" || name === "failed" || name === "cancelled" || name === "aborted";
  }

  /** Absolute stream offset just past the last byte written (starts at `resumeOffset`). */
  get bytesWritten(): number {
    return this.#queue.endOffset;
  }

  /** Highest stream offset ever handed to the transport (or found on the server after a restore). */
  get bytesSent(): number {
    return this.#highestSent;
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
    return this.#options.chunkSize;
  }

  /** The total size once known (declared, or decided by `end()`). */
  get totalSize(): number | undefined {
    return this.#endedAt ?? this.#declaredTotal;
  }

  /** The stream offset the source must be written from: 0, or the restored checkpoint's `resumeOffset`. */
  get resumeOffset(): number {
    return this.#resumeOffset;
  }

  /**
   * The backpressure signal: true while the machine is ready for another `write` (or `end`): data is
   * not ended and fewer than `chunkSize` unsent bytes are buffered — with an unknown total, up to
   * `chunkSize` inclusive, since a full chunk is sent only once a byte beyond it (or `end()`) has
   * come. While `verifying`, always (the bytes are only checksummed). Writes while false are
   * accepted but grow memory: wait.
   */
  get wantsData(): boolean {
    const phase = this.#phase;
    if (this.isFinished || this.#endedAt !== undefined || this.#cancelRequested) return false;
    if (phase.name === "verifying") return true;
    const end = this.#queue.endOffset;
    const declared = this.#declaredTotal;
    if (declared !== undefined && end >= declared) return true;
    const inFlight = phase.name === "uploading" ? phase.inFlight : undefined;
    const unsent = end - (inFlight !== undefined && inFlight.to > inFlight.from ? inFlight.to : this.#persisted);
    return declared === undefined ? unsent <= this.#options.chunkSize : unsent < this.#options.chunkSize;
  }

  /** The session URI (a secret), once a session exists. */
  get sessionUri(): string | undefined {
    return this.#sessionUri;
  }

  /** The final object resource, once `done`. */
  get object(): ObjectResource | undefined {
    return this.#phase.name === "done" ? this.#phase.object : undefined;
  }

  /** True once `done` with an object that was committed before `cancel()` took effect. */
  get committedBeforeCancel(): boolean {
    return this.#phase.name === "done" && this.#phase.committedBeforeCancel;
  }

  /** Why the upload ended, once `failed`, `aborted` (code `aborted`) or `cancelled` (code `cancelled`). */
  get error(): UploadError | undefined {
    return "error" in this.#phase ? this.#phase.error : undefined;
  }

  get #cancelRequested(): boolean {
    const phase = this.#phase;
    return phase.name === "cancelling" || (phase.name === "backoff" && phase.then.name === "cancelling");
  }

  // ---------------------------------------------------------------------------------------------
  // Checkpoint
  // ---------------------------------------------------------------------------------------------

  /**
   * A JSON-serialisable snapshot to resume from in another process (format version 2), or
   * `undefined` when there is nothing to resume (no session yet, or the upload is done or cancelled).
   */
  checkpoint(): Checkpoint | undefined {
    const name = this.#phase.name;
    if (this.#sessionUri === undefined || name === "done" || name === "cancelled") return undefined;
    const crc32c = this.#ledger.crc32cValue;
    const totalSize = this.totalSize;
    // The checkpoint claims only bytes it can checksum: the released ones.
    return sealCheckpoint({
      sessionUri: this.#sessionUri,
      resumeOffset: this.#queue.oldestOffset,
      chunkSize: this.#options.chunkSize,
      fingerprint: this.#options.fingerprint,
      ...(crc32c === undefined ? {} : { crc32c }),
      ...(totalSize === undefined ? {} : { totalSize }),
      ...(this.#createdAt === undefined ? {} : { createdAt: this.#createdAt }),
    });
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
    if (!(bytes instanceof Uint8Array)) throw new ValidationError("write(bytes)", `expected a Uint8Array, came ${describeValue(bytes)}`);
    this.#assertOpen("write()");
    const end = this.#queue.endOffset;
    if (this.#declaredTotal !== undefined && end + bytes.length > this.#declaredTotal) {
      throw new UsageError(
        `write() of ${bytes.length} bytes after ${end}: expected at most ${this.#declaredTotal} bytes in all (the declared totalSize), came ${end + bytes.length}`,
      );
    }
    this.#queue.push(bytes);
    // Bytes the server already holds (a restore's replay) and, while verifying, every byte are only
    // absorbed into the checksums: never sent.
    const absorbUpTo = this.#phase.name === "verifying" ? this.#queue.endOffset : Math.min(this.#persisted, this.#queue.endOffset);
    if (absorbUpTo > this.#queue.oldestOffset) this.#ledger.absorb(this.#queue.release(absorbUpTo));
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
    this.#endedAt = end;
    if (this.#phase.name === "verifying") this.#verifyFoundObject(this.#phase.object, this.#phase.size);
    else this.#checkSourceCoversServer();
  }

  /**
   * Cancels: the session (if any) is deleted, then the machine ends `cancelled`. A request in flight
   * is let settle first (the driver aborts chunks and queries, never a session start: its answer
   * tells whether a session exists to delete). If any answer shows the object final, the machine
   * ends `done` with `committedBeforeCancel`. No-op once finished or already cancelling.
   */
  cancel(): void {
    if (this.isFinished || this.#cancelRequested) return;
    const phase = this.#phase;
    this.#retry.onProgress(); // the DELETE gets a fresh budget
    if (phase.name === "verifying") return this.#finishDone(phase.object, phase.size ?? this.#persisted, true);
    const pending = "inFlight" in phase ? phase.inFlight : undefined;
    if (pending === undefined && this.#sessionUri === undefined) return this.#finishCancelled();
    this.#phase = pending === undefined ? { name: "cancelling" } : { name: "cancelling", pending };
  }

  /**
   * Stops at once without deleting the session: the machine ends `aborted` (a `failed` action with
   * code `aborted`), and `checkpoint()` still describes the session so another process can resume.
   * A request in flight is abandoned: its late outcome is accepted and ignored. No-op once finished.
   */
  abort(reason?: unknown): void {
    if (this.isFinished) return;
    const error = new UploadError("aborted", "the upload was aborted by the caller; the session is kept and can be resumed from its checkpoint", {
      cause: reason,
      ...this.#sessionDetail(),
    });
    this.#end("aborted", error);
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
    const phase = this.#phase;
    switch (phase.name) {
      case "done":
        return { type: "done", object: phase.object, committedBeforeCancel: phase.committedBeforeCancel };
      case "failed":
      case "aborted":
        return { type: "failed", error: phase.error };
      case "cancelled":
        return CANCELLED;
      case "verifying":
        return NEED_DATA;
      case "backoff":
        if (now < phase.until) return { type: "wait", until: phase.until };
        this.#phase = phase.then;
        return this.poll(now);
      case "starting":
        if (phase.inFlight !== undefined) return IN_FLIGHT;
        return this.#send(phase, "start", startRequest(this.#options, this.totalSize), now);
      case "resuming":
      case "querying":
        if (phase.inFlight !== undefined) return IN_FLIGHT;
        return this.#send(phase, "query", queryRequest(this.#options, this.#sessionUri!, this.totalSize), now);
      case "uploading":
        if (phase.inFlight !== undefined) return IN_FLIGHT;
        return this.#nextChunk(now);
      case "cancelling":
        if (phase.pending !== undefined) return IN_FLIGHT;
        if (this.#sessionUri === undefined) {
          this.#finishCancelled();
          return CANCELLED;
        }
        return this.#send(phase, "cancel", cancelRequest(this.#options, this.#sessionUri), now);
    }
  }

  /** The next event for the adapter, or `undefined` when there is none. Drain after every input. */
  pollEvent(): UploadEvent | undefined {
    return this.#events.shift();
  }

  /**
   * Decides the next chunk: full chunks until `end()`, then the finalizing request (rule 4). The
   * empty `bytes *\/N` finalize remains for a zero-byte object and for a server that already holds
   * every byte (a restored or adopted session).
   */
  #nextChunk(now: number): UploadAction {
    const from = this.#persisted;
    const end = this.#queue.endOffset;
    const size = this.#options.chunkSize;
    if (from > end) return NEED_DATA; // a restored session's server is ahead of the source replay
    if (this.#endedAt !== undefined) {
      const total = this.#endedAt;
      return total - from > size ? this.#sendChunk(from, from + size, false, now) : this.#sendChunk(from, total, true, now);
    }
    // Unknown total: a full chunk goes out with `/*` only once a byte beyond it is held. Known
    // total: the chunk that would reach it finalizes the object, and only end() may do that.
    if (this.#declaredTotal === undefined) return end - from > size ? this.#sendChunk(from, from + size, false, now) : NEED_DATA;
    return end - from >= size && from + size < this.#declaredTotal ? this.#sendChunk(from, from + size, false, now) : NEED_DATA;
  }

  #sendChunk(from: number, to: number, final: boolean, now: number): SendAction {
    const body = this.#queue.views(from, to);
    let hash: string | undefined;
    if (final) {
      const digests = this.#ledger.finalizeDigest(body);
      hash = googHashValue(digests.crc32c, digests.md5);
    }
    const request = chunkRequest(this.#options, this.#sessionUri!, { from, to, body, total: this.totalSize, hash });
    const action = this.#send(UPLOADING, final ? "finalize" : "chunk", request, now, from, to);
    if (to > this.#highestSent) {
      this.#highestSent = to;
      this.#events.push({ type: "progress", bytesSent: to, bytesPersisted: this.#persisted });
    }
    return action;
  }

  /** Creates the send action and puts it in flight in `phase` (rule 1). */
  #send(phase: Exclude<Phase, { name: "backoff" | "verifying" | "done" | "failed" | "cancelled" | "aborted" }>, purpose: RequestPurpose, request: TransportRequest, now: number, from = 0, to = 0): SendAction {
    const base = { type: "send", id: this.#nextId++, request, purpose, idleTimeoutMs: this.#options.retry.idleTimeoutMs } as const;
    const action: SendAction = this.#refreshCredentialsNext ? { ...base, refreshCredentials: true } : base;
    this.#refreshCredentialsNext = false;
    const pending: Pending = { action, from, to, sentAt: now };
    this.#phase = phase.name === "cancelling" ? { name: "cancelling", pending } : { ...phase, inFlight: pending };
    return action;
  }

  // ---------------------------------------------------------------------------------------------
  // Reports: every phase × outcome, top-down
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
    const pending = this.#settle(id, "onResponse");
    if (pending === undefined) return;
    const phase = this.#phase;
    const status = response.status;
    if (status === 401 && this.#sessionUri !== undefined && pending.action.refreshCredentials !== true) {
      // Rule 8: an expired token on a long upload. The phase sends the same request again. (A
      // start refused 401 has no session to keep: its credentials are simply not accepted.)
      this.#refreshCredentialsNext = true;
      return;
    }
    const { purpose, request } = pending.action;
    const refused = (): UploadError => errorForStatus(request, response, { forStart: purpose === "start", carriedHash: purpose === "finalize", sessionUri: this.#sessionUri });
    switch (phase.name) {
      case "starting": {
        if (!isFinal(status)) return isTransientStatus(status) ? this.#backoff(now, pending, this.#transientError(pending, response), { name: "starting" }) : this.#fail(refused());
        const location = sessionLocationOf(response);
        if (location === undefined) {
          const came = response.headers.location === undefined ? "none" : "a Location that is not an absolute URL";
          return this.#fail(new UploadError("protocol-violation", `${describeRequest(request)}: expected ${status} with a Location header holding the session URI, came ${came}`, { status }));
        }
        this.#sessionUri = location;
        if (this.#options.wallClock !== undefined) this.#createdAt = isoTimestamp(this.#options.wallClock());
        this.#phase = UPLOADING;
        this.#retry.onProgress();
        return this.#emitSession();
      }
      case "resuming":
      case "querying":
      case "uploading":
        if (status === 308) return this.#onIncomplete(pending, response, now);
        if (isFinal(status)) return this.#onFinal(pending, response, now);
        if (isTransientStatus(status)) return this.#backoff(now, pending, this.#transientError(pending, response), this.#askAgain(pending));
        return this.#fail(refused());
      case "cancelling":
        if (purpose === "start") {
          // The session exists even though the caller no longer wants it: learn it, to delete it.
          const location = isFinal(status) ? sessionLocationOf(response) : undefined;
          if (location !== undefined) this.#sessionUri = location;
          else if (this.#sessionUri === undefined) this.#finishCancelled();
          return;
        }
        if (isFinal(status)) return this.#onFinal(pending, response, now);
        if (purpose !== "cancel") return; // the DELETE follows
        if (cancelledStatuses.has(status)) return this.#finishCancelled();
        if (isTransientStatus(status)) return this.#backoff(now, pending, this.#transientError(pending, response), { name: "cancelling" });
        this.#events.push({ type: "cancel-incomplete", error: refused() });
        return this.#finishCancelled();
      default:
        return; // backoff, verifying and terminal phases have nothing in flight
    }
  }

  /**
   * Reports that request `id` did not complete: a transport rejection (`network`, `truncated`,
   * `aborted`, `auth`) or the driver's stall timer (`timeout`). All but `auth` leave the outcome
   * unknown: the machine backs off and asks the server.
   *
   * @throws UsageError when `id` is not the outstanding request.
   * @throws ValidationError when `failure.kind` is not one of the kinds.
   */
  onError(id: number, failure: TransportFailure, now: number): void {
    if (typeof failure !== "object" || failure === null || !failureKinds.has(failure.kind)) {
      throw new ValidationError("onError(failure)", `expected { kind: "network" | "timeout" | "aborted" | "truncated" | "auth" }, came ${describeValue(failure)}`);
    }
    const pending = this.#settle(id, "onError");
    if (pending === undefined) return;
    const phase = this.#phase;
    const what = describeRequest(pending.action.request);
    const error = new UploadError(isTransientFailure(failure.kind) ? "transient" : "auth", `${what}: ${this.#failureText(failure)}`, {
      cause: failure.cause,
      ...this.#sessionDetail(),
    });
    const purpose = pending.action.purpose;
    switch (phase.name) {
      case "starting":
      case "resuming":
      case "querying":
      case "uploading":
        if (error.code === "auth") return this.#fail(error);
        return this.#backoff(now, pending, error, phase.name === "starting" ? { name: "starting" } : this.#askAgain(pending));
      case "cancelling":
        if (purpose === "start" && this.#sessionUri === undefined) return this.#finishCancelled();
        if (purpose !== "cancel") return; // the DELETE follows, and answers with the object if it is final
        if (error.code === "auth") {
          this.#events.push({ type: "cancel-incomplete", error });
          return this.#finishCancelled();
        }
        return this.#backoff(now, pending, error, { name: "cancelling" });
      default:
        return;
    }
  }

  /** After a failed or unconfirmed request: where the backoff returns to (always a question). */
  #askAgain(pending: Pending): RetryTarget {
    const phase = this.#phase;
    if (phase.name === "resuming") return { name: "resuming", checkpointOffset: phase.checkpointOffset };
    return { name: "querying", reason: pending.action.purpose === "finalize" ? "final-unconfirmed" : "recover" };
  }

  /** A 308: the server holds `persisted` bytes and waits for more. */
  #onIncomplete(pending: Pending, response: TransportResponse, now: number): void {
    const phase = this.#phase;
    const range = response.headers.range;
    const persisted = persistedFromRange(range);
    const what = describeRequest(pending.action.request);
    const violation = (code: UploadErrorCode, message: string): void => this.#fail(new UploadError(code, `${what}: ${message}`, this.#sessionDetail(308)));
    if (persisted === undefined) return violation("protocol-violation", `expected 308 with "Range: bytes=0-N" or no Range, came Range "${range}"`);
    if (phase.name === "resuming") {
      const from = phase.checkpointOffset;
      if (persisted < from) return violation("data-lost", `the checkpoint says ${from} bytes were persisted, the server now holds only ${persisted}; those bytes are gone from memory`);
      if (this.#declaredTotal !== undefined && persisted > this.#declaredTotal) {
        return violation("protocol-violation", `the server holds ${persisted} bytes, more than the declared total size ${this.#declaredTotal}`);
      }
      this.#events.push({ type: "resumed", checkpointOffset: from, serverOffset: persisted, md5Skipped: this.#ledger.md5Skipped });
      this.#highestSent = Math.max(this.#highestSent, persisted);
      this.#phase = UPLOADING;
      if (persisted > this.#persisted) this.#advance(persisted);
      return this.#checkSourceCoversServer();
    }
    const sent = this.#highestSent;
    if (persisted > sent) return violation("protocol-violation", `the server reports ${persisted} bytes persisted, but only ${sent} were ever sent`);
    if (persisted < this.#persisted) {
      return violation("data-lost", `the server had confirmed ${this.#persisted} bytes, now reports ${persisted}; bytes below ${this.#queue.oldestOffset} were released and cannot be resent`);
    }
    if (persisted < sent) this.#events.push({ type: "rewind", from: sent, to: persisted });
    this.#phase = UPLOADING;
    if (persisted > this.#persisted) return this.#advance(persisted);
    if (pending.to > pending.from || pending.action.purpose === "finalize") {
      // The server kept none of what was just sent: a failed attempt, or a server that always
      // answers so would keep this machine sending forever.
      const kept = `expected the server to keep some of the ${pending.to - pending.from} bytes sent, came 308 with the persisted offset still at ${persisted}`;
      this.#backoff(now, pending, new UploadError("transient", `${what}: ${kept}`, this.#sessionDetail(308)), { name: "uploading" });
    }
  }

  /** A 200/201 to a session request: an object resource means the object exists (rule 7). */
  #onFinal(pending: Pending, response: TransportResponse, now: number): void {
    const phase = this.#phase;
    const what = describeRequest(pending.action.request);
    const status = response.status;
    const found = finalObjectOf(response, this.#options.target);
    if (found.kind === "incomplete") {
      // Rule 2: the object may be committed; only the session can say.
      const error = new UploadError("transient", `${what}: ${found.problem} (outcome unknown)`, this.#sessionDetail(status));
      if (phase.name === "cancelling") return this.#backoff(now, pending, error, { name: "cancelling" });
      return this.#backoff(now, pending, error, phase.name === "resuming" ? { name: "resuming", checkpointOffset: phase.checkpointOffset } : { name: "querying", reason: "final-unconfirmed" });
    }
    if (found.kind === "invalid") {
      if (phase.name === "cancelling" && pending.action.purpose === "cancel") return this.#finishCancelled(); // a DELETE's plain 200: gone
      return this.#fail(new UploadError("protocol-violation", `${what}: ${found.problem}`, this.#sessionDetail(status)));
    }
    const { object, size } = found;
    const violation = (message: string): void => this.#fail(new UploadError("protocol-violation", `${what}: ${message}`, this.#sessionDetail(status)));
    const committedBeforeCancel = phase.name === "cancelling";
    if (phase.name === "resuming" || (committedBeforeCancel && this.#endedAt === undefined)) {
      // A former process (or this one, before a cancel) finalized the object: check what can be
      // checked now, then read the rest of the source to compare (or, cancelling, report it).
      const from = this.#resumeOffset;
      const expected = this.#declaredTotal;
      if (size !== undefined && ((expected !== undefined && size !== expected) || size < Math.max(from, this.#persisted))) {
        return violation(`the session's object is already final with ${size} bytes, expected ${expected ?? `at least ${Math.max(from, this.#persisted)}`}`);
      }
      const known = size ?? Math.max(from, this.#persisted);
      if (phase.name === "resuming") this.#events.push({ type: "resumed", checkpointOffset: phase.checkpointOffset, serverOffset: known, md5Skipped: this.#ledger.md5Skipped });
      if (committedBeforeCancel) return this.#finishDone(object, known, true);
      this.#persisted = Math.max(this.#persisted, known);
      this.#highestSent = Math.max(this.#highestSent, known);
      this.#ledger.absorb(this.#queue.release(this.#queue.endOffset));
      this.#phase = { name: "verifying", object, size };
      if (this.#endedAt !== undefined) this.#verifyFoundObject(object, size);
      return;
    }
    if (this.#endedAt === undefined) {
      return violation(`the server finalized the object${size === undefined ? "" : ` at ${size} bytes`}, but end() has not been called (${this.#queue.endOffset} bytes written so far)`);
    }
    const total = this.#endedAt;
    if (size !== undefined && size !== total) return violation(`expected an object of ${total} bytes, came one of ${size}`);
    if (total > this.#highestSent) return violation(`the server finalized ${total} bytes, but only ${this.#highestSent} were ever sent`);
    const verified = this.#ledger.verify(object, this.#queue.views(this.#queue.oldestOffset, this.#queue.endOffset));
    if (!verified.ok) return this.#fail(new UploadError(verified.code, `${what}: ${verified.message}`, this.#sessionDetail(status)));
    this.#finishDone(object, total, committedBeforeCancel);
  }

  /** `verifying` and the source has ended: its size and digests against the object found final. */
  #verifyFoundObject(object: ObjectResource, size: number | undefined): void {
    const written = this.#queue.endOffset;
    const what = `the session's object (found final${size === undefined ? "" : `, ${size} bytes`})`;
    if (size !== undefined && written !== size) {
      return this.#fail(new UploadError("checksum-mismatch", `${what}: expected the source to have the object's ${size} bytes, came ${written}: these are not the bytes the session was given`, this.#sessionDetail()));
    }
    const verified = this.#ledger.verify(object);
    if (!verified.ok) return this.#fail(new UploadError(verified.code, `${what}: ${verified.message}`, this.#sessionDetail()));
    this.#finishDone(object, size ?? written, false);
  }

  // ---------------------------------------------------------------------------------------------
  // Transitions
  // ---------------------------------------------------------------------------------------------

  /** Takes request `id` out of the phase; `undefined` when it was abandoned by a terminal transition. */
  #settle(id: number, call: string): Pending | undefined {
    const phase = this.#phase;
    const pending = phase.name === "cancelling" ? phase.pending : "inFlight" in phase ? phase.inFlight : undefined;
    if (pending !== undefined && pending.action.id === id) {
      this.#phase = withoutRequest(phase);
      return pending;
    }
    if ("abandoned" in phase && phase.abandoned === id) {
      this.#phase = { name: phase.name, error: phase.error };
      return undefined;
    }
    const outstanding = pending === undefined ? "there is none" : String(pending.action.id);
    throw new UsageError(`${call}(${String(id)}): expected the id of the outstanding request (${outstanding}), came one that is unknown or already settled`);
  }

  /** The persisted offset advanced: release into the ledger, reset the retry budget. */
  #advance(persisted: number): void {
    this.#persisted = persisted;
    const releasable = Math.min(persisted, this.#queue.endOffset);
    if (releasable > this.#queue.oldestOffset) this.#ledger.absorb(this.#queue.release(releasable));
    this.#retry.onProgress();
    this.#events.push({ type: "progress", bytesSent: this.#highestSent, bytesPersisted: persisted });
  }

  /** A transient failure: back off, then `then`; or give up when the budget or the deadline is spent. */
  #backoff(now: number, pending: Pending, error: UploadError, then: RetryTarget): void {
    const decision = this.#retry.onFailure(now, pending.sentAt);
    if ("retryAt" in decision) {
      this.#phase = { name: "backoff", until: decision.retryAt, then };
      this.#events.push({ type: "retry", attempt: decision.attempt, delayMs: decision.delayMs, error });
      return;
    }
    const { maxAttempts, deadlineMs } = this.#retry.options;
    const why =
      decision.giveUp === "retries-exhausted"
        ? `gave up after ${decision.attempt} failed attempt${decision.attempt === 1 ? "" : "s"} in a row without progress (persisted offset ${this.#persisted}, maxAttempts ${maxAttempts})`
        : `no progress for ${decision.elapsedMs} ms; the next retry (in ${decision.delayMs} ms) would begin after the ${deadlineMs} ms deadline (persisted offset ${this.#persisted})`;
    const final = new UploadError(decision.giveUp, `${why}; last error: ${error.message}`, {
      cause: error,
      ...(error.status === undefined ? {} : { status: error.status }),
      ...(error.serverMessage === undefined ? {} : { serverMessage: error.serverMessage }),
      ...this.#sessionDetail(),
    });
    if (then.name !== "cancelling") return this.#fail(final);
    this.#events.push({ type: "cancel-incomplete", error: final });
    this.#finishCancelled();
  }

  #fail(error: UploadError): void {
    this.#end("failed", error);
  }

  /** Enters a terminal phase with an error, abandoning the request in flight (rule 5). */
  #end(name: "failed" | "cancelled" | "aborted", error: UploadError): void {
    const phase = this.#phase;
    const pending = phase.name === "cancelling" ? phase.pending : "inFlight" in phase ? phase.inFlight : undefined;
    this.#phase = pending === undefined ? { name, error } : { name, error, abandoned: pending.action.id };
  }

  #finishDone(object: ObjectResource, total: number, committedBeforeCancel: boolean): void {
    this.#persisted = Math.max(this.#persisted, total);
    this.#highestSent = Math.max(this.#highestSent, total);
    // Nothing will be resent: let the caller's buffers go (the checksums are no longer needed).
    this.#queue.release(this.#queue.endOffset);
    this.#phase = { name: "done", object, committedBeforeCancel };
    this.#events.push({ type: "progress", bytesSent: this.#highestSent, bytesPersisted: this.#persisted });
  }

  #finishCancelled(): void {
    const message = this.#sessionUri === undefined ? "the upload was cancelled before a session existed" : "the upload was cancelled and its session deleted";
    this.#end("cancelled", new UploadError("cancelled", message, this.#sessionDetail()));
  }

  /** After a restore, the source must reach the offset the server already holds. */
  #checkSourceCoversServer(): void {
    const end = this.#queue.endOffset;
    if (this.#endedAt === undefined || this.#persisted <= end) return;
    this.#fail(
      new UploadError(
        "invalid-checkpoint",
        `the source ended at ${end} bytes, but the server already holds ${this.#persisted} bytes of this upload: this is not the source the session was started with`,
        this.#sessionDetail(),
      ),
    );
  }

  #assertOpen(call: string): void {
    const phase = this.#phase;
    if (this.isFinished) {
      const error = this.error;
      throw new UsageError(`${call} after the upload ${phase.name === "failed" ? "failed" : `was ${phase.name}`}: expected an upload in progress`, {
        ...(error === undefined ? {} : { cause: error }),
      });
    }
    if (this.#cancelRequested) throw new UsageError(`${call} after cancel(): expected an upload in progress`);
    if (this.#endedAt !== undefined) throw new UsageError(`${call} after end(): the upload's length was already decided`);
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

  #transientError(pending: Pending, response: TransportResponse): UploadError {
    const serverMessage = serverMessageOf(response.body);
    const came = `came ${response.status}${serverMessage === undefined ? "" : ` "${serverMessage}"`}`;
    return new UploadError("transient", `${describeRequest(pending.action.request)}: expected a definitive answer, ${came} (transient)`, {
      status: response.status,
      ...(serverMessage === undefined ? {} : { serverMessage }),
      ...this.#sessionDetail(),
    });
  }

  #failureText(failure: TransportFailure): string {
    switch (failure.kind) {
      case "network":
        return "the connection failed before a complete response arrived (outcome unknown)";
      case "timeout":
        return `no progress for ${this.#options.retry.idleTimeoutMs} ms: the request stalled and was abandoned (outcome unknown)`;
      case "aborted":
        return "the request was aborted before it completed (outcome unknown)";
      case "truncated":
        return "the response was cut short (outcome unknown)";
      case "auth": {
        const reason = failure.cause instanceof Error ? failure.cause.message : typeof failure.cause === "string" ? failure.cause : "no reason given";
        return `no credentials could be obtained for this request (not retried): ${reason}`;
      }
    }
  }
}
