/**
 * The resumable-upload state machine: sans-IO, in the manner of h11 and quinn-proto.
 *
 * The caller feeds it bytes (`write`, `end`) and outcomes (`onResponse`, `onError`), asks it what to
 * do next (`poll(now)`), and drains what it wants to tell (`pollEvent`). It performs no I/O, reads no
 * clock (time arrives as `now`), draws no randomness of its own (jitter comes from `options.random`).
 * The same inputs give the same actions, byte for byte.
 *
 * Rules (docs/protocol.md, session start to retry policy):
 *  1. One request at a time. `poll` returns each `send` exactly once; until its outcome is reported
 *     it answers `in-flight`. The request in flight is part of the phase that sent it.
 *  2. The server's answer is the only truth. After a transient failure (see `retry-policy.ts`) the
 *     machine backs off, then ASKS where the upload stands and continues from the answer. A final
 *     answer whose object resource is cut short is such a failure too: the object may exist.
 *  3. Which bytes go out is `source-bytes.ts`'s: never a byte below the persisted offset again,
 *     exact `chunkSize` chunks, the total decided only by `end()`. An acknowledgement beyond what
 *     was sent is a protocol violation; one below the oldest retained byte means data lost.
 *  4. The request that carries the total finalizes, and only it carries `X-Goog-Hash`.
 *  5. A terminal phase is final. Caller misuse throws at once ({@link UsageError},
 *     {@link ValidationError}) and changes nothing; protocol and network problems end in `failed`.
 *  6. Checksums: see `checksum-ledger.ts`. Every digest asked for is verified against the object.
 *  7. An object resource in any answer means the object exists: it is verified and the machine ends
 *     `done`, also when it was committed before a `cancel()` (`committedBeforeCancel`), and also when
 *     an adopted or restored session turns out final (`verifying`: the rest of the source is read to
 *     compare size and CRC32C). Nothing that exists is reported cancelled or failed for that reason.
 *     An `abort()` while a finalizing request is out lets it settle (one status query if its outcome
 *     is unknown) and ends `done` when the object was committed, `aborted` otherwise.
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
 * | `verifying` | object, size? | `need-data` until `end()` | `end()`: size and CRC32C match → `done`, else `failed`; `cancel()` → `done` (committed before cancel) |
 * | `backoff` | until, then | `wait` until `until`, then become `then` | — |
 * | `cancelling` | pending? | let `pending` settle, then send the DELETE | object → `done` (committed before cancel); gone → `cancelled`; transient → `backoff` |
 * | `done` / `failed` / `cancelled` / `aborted` | object or error | the same terminal action, forever | — |
 */
import { assertCheckpointFits, isoTimestamp, parseCheckpoint, sealCheckpoint, type Checkpoint } from "./checkpoint.js";
import { describeValue } from "./describe.js";
import { UploadError, UsageError, ValidationError, type UploadErrorCode } from "./errors.js";
import type { CancelledAction, InFlightAction, NeedDataAction, RequestPurpose, SendAction, TransportFailure, UploadAction, UploadEvent } from "./machine-actions.js";
import type { UploadOptions } from "./options.js";
import {
  assertTransportFailure, assertTransportResponse, cancelRequest, cancelledStatuses, chunkRequest, describeRequest, errorForStatus, finalObjectOf,
  giveUpError, googHashValue, missingLocationError, persistedFromRange, queryRequest, sessionLocationOf, startRequest, transientStatusError, transportFailureError,
  type ObjectResource,
} from "./protocol.js";
import { resolveOptions, type ResolvedOptions } from "./resolve-options.js";
import { RetryPolicy, isTransientStatus } from "./retry-policy.js";
import { SourceBytes } from "./source-bytes.js";
import type { TransportResponse } from "./transport.js";

export type {
  CancelledAction, DoneAction, FailedAction, InFlightAction, NeedDataAction, RequestPurpose, SendAction, TransportErrorKind, TransportFailure, UploadAction, UploadEvent, WaitAction,
} from "./machine-actions.js";

/** A request in flight: the action, the stream range [from, to) it carries (chunks only), when it was sent. */
interface Pending { readonly action: SendAction; readonly from: number; readonly to: number; readonly sentAt: number }

/** The whole control state of the machine (see the table in the module header). */
type Phase =
  | { readonly name: "starting"; readonly inFlight?: Pending }
  | { readonly name: "resuming"; readonly checkpointOffset: number; readonly inFlight?: Pending }
  /** `reason`: recover after a failure, or learn whether a finalizing request committed. */
  | { readonly name: "querying"; readonly reason: "recover" | "final-unconfirmed"; readonly inFlight?: Pending }
  | { readonly name: "uploading"; readonly inFlight?: Pending }
  /** `size`: the object's, when it states one (the XML API may not). */
  | { readonly name: "verifying"; readonly object: ObjectResource; readonly size: number | undefined }
  /** `then`: the phase to return to (it sends the next request). */
  | { readonly name: "backoff"; readonly until: number; readonly then: SendingPhase }
  | { readonly name: "cancelling"; readonly pending?: Pending }
  | { readonly name: "done"; readonly object: ObjectResource; readonly committedBeforeCancel: boolean }
  /** `abandoned`: the id of a request left in flight; its late outcome is accepted and ignored once. */
  | { readonly name: "failed" | "cancelled" | "aborted"; readonly error: UploadError; readonly abandoned?: number };

/** A phase that sends requests (and a backoff returns to). */
type SendingPhase = Extract<Phase, { name: "starting" | "resuming" | "querying" | "uploading" | "cancelling" }>;

/** The machine's phases (see the module header). */
export type MachineState = "starting" | "resuming" | "querying" | "uploading" | "verifying" | "backoff" | "cancelling" | "done" | "failed" | "cancelled" | "aborted";

const NEED_DATA: NeedDataAction = { type: "need-data" };
const IN_FLIGHT: InFlightAction = { type: "in-flight" };
const CANCELLED: CancelledAction = { type: "cancelled" };
const UPLOADING = { name: "uploading" } as const satisfies Phase;
const isFinal = (status: number): boolean => status === 200 || status === 201;

/** The request a phase has in flight, if any. */
const requestOf = (phase: Phase): Pending | undefined => (phase.name === "cancelling" ? phase.pending : "inFlight" in phase ? phase.inFlight : undefined);

/** `phase` with `pending` in flight, or nothing (built field by field: this is on every chunk's path). */
function withRequest(phase: SendingPhase, pending: Pending | undefined): SendingPhase {
  switch (phase.name) {
    case "uploading": return pending === undefined ? UPLOADING : { name: "uploading", inFlight: pending };
    case "cancelling": return { name: "cancelling", pending };
    case "resuming": return { name: "resuming", checkpointOffset: phase.checkpointOffset, inFlight: pending };
    case "querying": return { name: "querying", reason: phase.reason, inFlight: pending };
    case "starting": return { name: "starting", inFlight: pending };
  }
}

/** The resumable-upload state machine (rules and phases: the module header; `UploadDriver` runs it). */
export class UploadMachine {
  readonly #options: ResolvedOptions;
  readonly #retry: RetryPolicy;
  #phase: Phase;
  #bytes: SourceBytes;
  #sessionUri: string | undefined;
  #createdAt: string | undefined;
  /** The next request asks for fresh credentials (rule 8): a property of that request, not a phase. */
  #refreshCredentialsNext = false;
  /** `abort()` came while finalizing: the error to end with if the object turns out not committed. */
  #keepRequested: UploadError | undefined;
  /** The one status query an abort while finalizing may send has been sent. */
  #keepAsked = false;
  #nextId = 1;
  #events: UploadEvent[] = [];

  /** @throws ValidationError naming the first malformed option: they are validated at once. */
  constructor(options: UploadOptions) {
    this.#options = resolveOptions(options);
    this.#retry = new RetryPolicy(this.#options.retry, this.#options.random);
    this.#bytes = new SourceBytes({ chunkSize: this.#options.chunkSize, declaredTotal: this.#options.totalSize, digests: this.#options });
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
   * Recreates a machine from a checkpoint (v2, or v1) of the same upload; it begins with a status
   * query, and the caller writes the source from `resumeOffset`.
   * @throws UploadError `invalid-checkpoint` (malformed, edited, another upload's); ValidationError.
   */
  static restore(checkpoint: unknown, options: UploadOptions): UploadMachine {
    const parsed = parseCheckpoint(checkpoint);
    const machine = new UploadMachine(options);
    assertCheckpointFits(parsed, machine.#options);
    const offset = parsed.resumeOffset;
    const declaredTotal = machine.#options.totalSize ?? parsed.totalSize;
    const start = { offset, ...(parsed.crc32c === undefined ? {} : { crc32c: parsed.crc32c }) };
    machine.#bytes = new SourceBytes({ chunkSize: machine.#options.chunkSize, declaredTotal, digests: machine.#options }, start);
    machine.#sessionUri = parsed.sessionUri;
    machine.#createdAt = parsed.createdAt;
    machine.#phase = { name: "resuming", checkpointOffset: offset };
    machine.#events = [];
    machine.#emitSession();
    return machine;
  }

  // ---- Getters ---------------------------------------------------------------------------------

  /** The current phase's name (see the module header). */
  get state(): MachineState { return this.#phase.name; }

  /** True once the machine reached `done`, `failed`, `cancelled` or `aborted` (it stays there). */
  get isFinished(): boolean {
    const name = this.#phase.name;
    return name === "done" || name === "failed" || name === "cancelled" || name === "aborted";
  }

  /** Absolute stream offset just past the last byte written (starts at `resumeOffset`). */
  get bytesWritten(): number { return this.#bytes.written; }

  /** Highest stream offset ever handed to the transport (or found on the server after a restore). */
  get bytesSent(): number { return this.#bytes.highestSent; }

  /** Bytes the server has confirmed. Never decreases. */
  get bytesPersisted(): number { return this.#bytes.persisted; }

  /** Bytes held in memory (written, not yet acknowledged). */
  get bytesBuffered(): number { return this.#bytes.retained; }

  /** Bytes per request. */
  get chunkSize(): number { return this.#options.chunkSize; }

  /** The total size once known (declared, or decided by `end()`). */
  get totalSize(): number | undefined { return this.#bytes.total; }

  /** The stream offset the source must be written from: 0, or the restored checkpoint's `resumeOffset`. */
  get resumeOffset(): number { return this.#bytes.startOffset; }

  /**
   * Backpressure: true while another `write` (or `end`) is welcome (less than a chunk waits to be
   * sent, see `source-bytes.ts`; always while `verifying`). Writes while false grow memory: wait.
   */
  get wantsData(): boolean {
    const phase = this.#phase;
    if (this.isFinished || this.#bytes.ended || this.#cancelRequested) return false;
    if (phase.name === "verifying") return true;
    return this.#bytes.wantsMore(phase.name === "uploading" ? phase.inFlight : undefined);
  }

  /** The session URI (a secret), once a session exists. */
  get sessionUri(): string | undefined { return this.#sessionUri; }

  /** The final object resource, once `done`. */
  get object(): ObjectResource | undefined { return this.#phase.name === "done" ? this.#phase.object : undefined; }

  /** True once `done` with an object that was committed before `cancel()` took effect (rule 7). */
  get committedBeforeCancel(): boolean { return this.#phase.name === "done" && this.#phase.committedBeforeCancel; }

  /** Why the upload ended, once `failed`, `aborted` (code `aborted`) or `cancelled` (code `cancelled`). */
  get error(): UploadError | undefined { return "error" in this.#phase ? this.#phase.error : undefined; }

  get #cancelRequested(): boolean {
    const phase = this.#phase;
    return phase.name === "cancelling" || (phase.name === "backoff" && phase.then.name === "cancelling");
  }

  // ---- Checkpoint ------------------------------------------------------------------------------

  /**
   * A JSON-serialisable snapshot to resume from in another process (format version 2), or
   * `undefined` when there is nothing to resume (no session yet, or the upload is done or cancelled).
   */
  checkpoint(): Checkpoint | undefined {
    const name = this.#phase.name;
    if (this.#sessionUri === undefined || name === "done" || name === "cancelled") return undefined;
    // The checkpoint claims only bytes it can checksum: the released ones.
    const fields = { sessionUri: this.#sessionUri, chunkSize: this.#options.chunkSize, fingerprint: this.#options.fingerprint, ...this.#bytes.checkpointFields() };
    return sealCheckpoint(this.#createdAt === undefined ? fields : { ...fields, createdAt: this.#createdAt });
  }

  // ---- Input -----------------------------------------------------------------------------------

  /**
   * Hands over the source's next bytes by reference (do not modify them until acknowledged).
   * @throws ValidationError for a non-Uint8Array; UsageError after end/cancel/finish, or past the declared total.
   */
  write(bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw new ValidationError("write(bytes)", `expected a Uint8Array, came ${describeValue(bytes)}`);
    this.#assertOpen("write()");
    // While verifying nothing more is sent: every byte only feeds the checksums.
    this.#bytes.write(bytes, this.#phase.name === "verifying");
  }

  /**
   * Declares the end of the source: the total is now `bytesWritten`. The only way an upload ends.
   * @throws UsageError when already ended, cancelled or finished, or short of the declared total.
   */
  end(): void {
    this.#assertOpen("end()");
    this.#bytes.end();
    if (this.#phase.name === "verifying") this.#verifyFoundObject(this.#phase.object, this.#phase.size);
    else this.#checkSourceCoversServer();
  }

  /**
   * Deletes the session (if any), then ends `cancelled`; a request in flight settles first (a start's
   * answer tells whether there is a session to delete). An answer showing the object final ends
   * `done` with `committedBeforeCancel` (rule 7). No-op once finished or cancelling.
   */
  cancel(): void {
    if (this.isFinished || this.#cancelRequested) return;
    const phase = this.#phase;
    this.#retry.onProgress(); // the DELETE gets a fresh budget
    if (phase.name === "verifying") return this.#finishDone(phase.object, phase.size ?? this.#bytes.persisted, true);
    const pending = requestOf(phase);
    if (pending === undefined && this.#sessionUri === undefined) return this.#finishCancelled();
    this.#phase = pending === undefined ? { name: "cancelling" } : { name: "cancelling", pending };
  }

  /**
   * Stops, keeping the session: ends `aborted` (a `failed` action, code `aborted`); the checkpoint
   * stays available; a late outcome of the request in flight is ignored. Once a finalizing request
   * was sent, though, whether the object exists is the server's answer: the machine lets that
   * request settle (and, if its outcome is unknown, asks the session once) and ends `done` when the
   * object was committed, so an abort never reports "kept" about an object that exists (rule 7).
   * No-op once finished.
   */
  abort(reason?: unknown): void {
    if (this.isFinished || this.#keepRequested !== undefined) return;
    const message = "the upload was aborted by the caller; the session is kept and can be resumed from its checkpoint";
    const error = new UploadError("aborted", message, { cause: reason, ...this.#sessionDetail() });
    if (this.#finalizing()) {
      this.#keepRequested = error;
      return;
    }
    this.#end("aborted", error);
  }

  /** True while a finalizing request is in flight or its outcome is still being confirmed. */
  #finalizing(): boolean {
    let phase = this.#phase;
    if (phase.name === "backoff") phase = phase.then;
    if (phase.name === "querying" && phase.reason === "final-unconfirmed") return true;
    return requestOf(phase)?.action.purpose === "finalize";
  }

  /**
   * After `abort()` came while finalizing: once nothing is in flight, either ask the session once
   * (without waiting out a backoff) or end `aborted`. Returns true when the machine ended.
   */
  #settleKeep(): boolean {
    const keep = this.#keepRequested;
    if (keep === undefined || this.isFinished) return false;
    let phase = this.#phase;
    if (requestOf(phase) !== undefined) return false;
    if (phase.name === "backoff" && phase.then.name === "querying" && phase.then.reason === "final-unconfirmed" && !this.#keepAsked) {
      this.#phase = phase = phase.then;
    }
    if (phase.name === "querying" && phase.reason === "final-unconfirmed" && !this.#keepAsked) {
      this.#keepAsked = true;
      return false;
    }
    this.#end("aborted", keep);
    return true;
  }

  // ---- Output ----------------------------------------------------------------------------------

  /**
   * What to do next, at `now` (the caller's monotonic clock, ms). Without new input it returns the
   * same logical action again; a `send` is returned exactly once per id.
   */
  poll(now: number): UploadAction {
    if (typeof now !== "number" || !Number.isFinite(now)) throw new ValidationError("poll(now)", `expected a finite number, came ${String(now)}`);
    this.#settleKeep();
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
        return phase.inFlight !== undefined ? IN_FLIGHT : this.#send(phase, "start", startRequest(this.#options, this.#bytes.total), now);
      case "resuming":
      case "querying":
        return phase.inFlight !== undefined ? IN_FLIGHT : this.#send(phase, "query", queryRequest(this.#options, this.#sessionUri!, this.#bytes.total), now);
      case "uploading":
        return phase.inFlight !== undefined ? IN_FLIGHT : this.#nextChunk(now);
      case "cancelling": // every way into it without a request in flight has a session (see cancel())
        return phase.pending !== undefined ? IN_FLIGHT : this.#send(phase, "cancel", cancelRequest(this.#options, this.#sessionUri!), now);
    }
  }

  /** The next event for the adapter, or `undefined` when there is none. Drain after every input. */
  pollEvent(): UploadEvent | undefined {
    return this.#events.shift();
  }

  /** The next chunk or the finalizing request (rule 4; `source-bytes.ts` rule 3), carrying X-Goog-Hash only when final. */
  #nextChunk(now: number): UploadAction {
    const chunk = this.#bytes.nextChunk();
    if (chunk === undefined) return NEED_DATA;
    const { from, to, final } = chunk;
    const body = this.#bytes.views(from, to);
    const digests = final ? this.#bytes.finalizeDigest(body) : undefined;
    const hash = digests === undefined ? undefined : googHashValue(digests.crc32c, digests.md5);
    const request = chunkRequest(this.#options, this.#sessionUri!, { from, to, body, total: this.#bytes.total, hash });
    const action = this.#send(UPLOADING, final ? "finalize" : "chunk", request, now, from, to);
    if (this.#bytes.markSent(to)) this.#progress();
    return action;
  }

  /** Creates the send action and puts it in flight in `phase` (rule 1). */
  #send(phase: SendingPhase, purpose: RequestPurpose, request: SendAction["request"], now: number, from = 0, to = 0): SendAction {
    const base = { type: "send", id: this.#nextId++, request, purpose, idleTimeoutMs: this.#options.retry.idleTimeoutMs } as const;
    const action: SendAction = this.#refreshCredentialsNext ? { ...base, refreshCredentials: true } : base;
    this.#refreshCredentialsNext = false;
    const pending: Pending = { action, from, to, sentAt: now };
    this.#phase = withRequest(phase, pending);
    return action;
  }

  // ---- Reports: every phase × outcome, top-down ------------------------------------------------

  /** Reports request `id`'s complete response. @throws UsageError for another id; ValidationError for a malformed response. */
  onResponse(id: number, response: TransportResponse, now: number): void {
    assertTransportResponse(response);
    const pending = this.#settle(id, "onResponse");
    if (pending === undefined) return;
    const phase = this.#phase;
    const status = response.status;
    const { purpose, request } = pending.action;
    if (status === 401 && this.#sessionUri !== undefined && pending.action.refreshCredentials !== true) {
      // Rule 8: an expired token on a long upload; the phase sends the same request again. (A start
      // refused 401 has no session to keep: its credentials are simply not accepted.)
      this.#refreshCredentialsNext = true;
      return;
    }
    const refused = (): UploadError => errorForStatus(request, response, { forStart: purpose === "start", carriedHash: purpose === "finalize", sessionUri: this.#sessionUri });
    const transient = (): UploadError => transientStatusError(request, response, this.#sessionUri);
    switch (phase.name) {
      case "starting": {
        if (!isFinal(status)) return isTransientStatus(status) ? this.#backoff(now, pending, transient(), this.#askAgain(pending)) : this.#end("failed", refused());
        const location = sessionLocationOf(response);
        if (location === undefined) return this.#end("failed", missingLocationError(request, response));
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
        return isTransientStatus(status) ? this.#backoff(now, pending, transient(), this.#askAgain(pending)) : this.#end("failed", refused());
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
        if (isTransientStatus(status)) return this.#backoff(now, pending, transient(), this.#askAgain(pending));
        this.#events.push({ type: "cancel-incomplete", error: refused() });
        return this.#finishCancelled();
      default:
        return; // backoff, verifying and terminal phases have nothing in flight
    }
  }

  /**
   * Reports that request `id` did not complete (a transport rejection, or the stall timer's `timeout`):
   * all kinds but `auth` leave the outcome unknown, so the machine backs off and asks the server.
   * @throws UsageError for another id; ValidationError for an unknown kind.
   */
  onError(id: number, failure: TransportFailure, now: number): void {
    assertTransportFailure(failure);
    const pending = this.#settle(id, "onError");
    if (pending === undefined) return;
    const phase = this.#phase;
    const purpose = pending.action.purpose;
    const error = transportFailureError(pending.action.request, failure, { idleTimeoutMs: this.#options.retry.idleTimeoutMs, sessionUri: this.#sessionUri });
    switch (phase.name) {
      case "starting":
      case "resuming":
      case "querying":
      case "uploading":
        return error.code === "auth" ? this.#end("failed", error) : this.#backoff(now, pending, error, this.#askAgain(pending));
      case "cancelling":
        if (purpose === "start" && this.#sessionUri === undefined) return this.#finishCancelled();
        if (purpose !== "cancel") return; // the DELETE follows, and answers with the object if it is final
        if (error.code !== "auth") return this.#backoff(now, pending, error, this.#askAgain(pending));
        this.#events.push({ type: "cancel-incomplete", error });
        return this.#finishCancelled();
      default:
        return;
    }
  }

  /** Where a backoff returns to (rule 2); `unconfirmed`: the failed request may have committed the object. */
  #askAgain(pending: Pending, unconfirmed = pending.action.purpose === "finalize"): SendingPhase {
    const phase = this.#phase;
    if (phase.name === "starting" || phase.name === "cancelling") return { name: phase.name };
    if (phase.name === "resuming") return { name: "resuming", checkpointOffset: phase.checkpointOffset };
    return { name: "querying", reason: unconfirmed ? "final-unconfirmed" : "recover" };
  }

  /** A 308: the server holds `persisted` bytes and waits for more. */
  #onIncomplete(pending: Pending, response: TransportResponse, now: number): void {
    const phase = this.#phase;
    const bytes = this.#bytes;
    const range = response.headers.range;
    const persisted = persistedFromRange(range);
    const violation = (code: UploadErrorCode, message: string): void => this.#end("failed", this.#errorAbout(pending, code, message, 308));
    if (persisted === undefined) return violation("protocol-violation", `expected 308 with "Range: bytes=0-N" or no Range, came Range "${range}"`);
    const problem = bytes.checkAcknowledged(persisted, phase.name === "resuming" ? phase.checkpointOffset : undefined);
    if (problem !== undefined) return violation(problem.code, problem.message);
    if (phase.name === "resuming") {
      this.#events.push({ type: "resumed", checkpointOffset: phase.checkpointOffset, serverOffset: persisted, md5Skipped: bytes.ledger.md5Skipped });
      bytes.markSent(persisted);
      this.#phase = UPLOADING;
      if (persisted > bytes.persisted) this.#advance(persisted);
      return this.#checkSourceCoversServer();
    }
    const sent = bytes.highestSent;
    if (persisted < sent) this.#events.push({ type: "rewind", from: sent, to: persisted });
    this.#phase = UPLOADING;
    if (persisted > bytes.persisted) return this.#advance(persisted);
    if (pending.to > pending.from || pending.action.purpose === "finalize") {
      // The server kept none of what was just sent: a failed attempt, or a server that always
      // answers so would keep this machine sending forever.
      const kept = `expected the server to keep some of the ${pending.to - pending.from} bytes sent, came 308 with the persisted offset still at ${persisted}`;
      this.#backoff(now, pending, this.#errorAbout(pending, "transient", kept, 308), { name: "uploading" });
    }
  }

  /** A 200/201 to a session request: an object resource means the object exists (rule 7). */
  #onFinal(pending: Pending, response: TransportResponse, now: number): void {
    const phase = this.#phase;
    const bytes = this.#bytes;
    const status = response.status;
    const found = finalObjectOf(response, this.#options.target);
    if (found.kind === "incomplete") {
      // Rule 2: the object may be committed; only the session can say.
      return this.#backoff(now, pending, this.#errorAbout(pending, "transient", `${found.problem} (outcome unknown)`, status), this.#askAgain(pending, true));
    }
    if (found.kind === "invalid") {
      if (phase.name === "cancelling" && pending.action.purpose === "cancel") return this.#finishCancelled(); // a DELETE's plain 200: gone
      return this.#end("failed", this.#errorAbout(pending, "protocol-violation", found.problem, status));
    }
    const { object, size } = found;
    const committedBeforeCancel = phase.name === "cancelling";
    // Final before this process sent its last byte (found by a resume, or a cancel's DELETE): only its
    // size can be checked now; the rest of the source is read to compare (cancelling: reported).
    const foundFinal = phase.name === "resuming" || (committedBeforeCancel && !(bytes.ended && bytes.highestSent >= bytes.written));
    const problem = bytes.checkFinalSize(size, foundFinal);
    if (problem !== undefined) return this.#end("failed", this.#errorAbout(pending, "protocol-violation", problem, status));
    if (foundFinal) {
      const known = size ?? bytes.persisted;
      if (phase.name === "resuming") this.#events.push({ type: "resumed", checkpointOffset: phase.checkpointOffset, serverOffset: known, md5Skipped: bytes.ledger.md5Skipped });
      if (committedBeforeCancel) return this.#finishDone(object, known, true);
      bytes.absorbAll(known);
      this.#phase = { name: "verifying", object, size };
      if (bytes.ended) this.#verifyFoundObject(object, size);
      return;
    }
    const verified = bytes.ledger.verify(object, bytes.tail());
    if (!verified.ok) return this.#end("failed", this.#errorAbout(pending, verified.code, verified.message, status));
    this.#finishDone(object, bytes.written, committedBeforeCancel);
  }

  /** `verifying` and the source has ended: its size and digests against the object found final. */
  #verifyFoundObject(object: ObjectResource, size: number | undefined): void {
    const written = this.#bytes.written;
    const what = `the session's object (found final${size === undefined ? "" : `, ${size} bytes`})`;
    if (size !== undefined && written !== size) {
      const message = `${what}: expected the source to have the object's ${size} bytes, came ${written}: these are not the bytes the session was given`;
      return this.#end("failed", new UploadError("checksum-mismatch", message, this.#sessionDetail()));
    }
    const verified = this.#bytes.ledger.verify(object);
    if (!verified.ok) return this.#end("failed", new UploadError(verified.code, `${what}: ${verified.message}`, this.#sessionDetail()));
    this.#finishDone(object, written, false);
  }

  // ---- Transitions -----------------------------------------------------------------------------

  /** Takes request `id` out of the phase; `undefined` when it was abandoned by a terminal transition. */
  #settle(id: number, call: string): Pending | undefined {
    const phase = this.#phase;
    const pending = requestOf(phase);
    if (pending !== undefined && pending.action.id === id) {
      this.#phase = withRequest(phase as SendingPhase, undefined);
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
    this.#bytes.acknowledge(persisted);
    this.#retry.onProgress();
    this.#progress();
  }

  /** A transient failure: back off, then `then`; or give up when the budget or the deadline is spent. */
  #backoff(now: number, pending: Pending, error: UploadError, then: SendingPhase): void {
    const decision = this.#retry.onFailure(now, pending.sentAt);
    if ("retryAt" in decision) {
      this.#phase = { name: "backoff", until: decision.retryAt, then };
      this.#events.push({ type: "retry", attempt: decision.attempt, delayMs: decision.delayMs, error });
      return;
    }
    const final = giveUpError(decision, error, { options: this.#retry.options, persisted: this.#bytes.persisted, sessionUri: this.#sessionUri });
    if (then.name !== "cancelling") return this.#end("failed", final);
    this.#events.push({ type: "cancel-incomplete", error: final });
    this.#finishCancelled();
  }

  /** Enters a terminal phase with an error, abandoning the request in flight (rule 5). */
  #end(name: "failed" | "cancelled" | "aborted", error: UploadError): void {
    const pending = requestOf(this.#phase);
    this.#phase = pending === undefined ? { name, error } : { name, error, abandoned: pending.action.id };
  }

  #finishDone(object: ObjectResource, total: number, committedBeforeCancel: boolean): void {
    this.#bytes.finish(total); // nothing will be resent: let the caller's buffers go
    this.#phase = { name: "done", object, committedBeforeCancel };
    this.#progress();
  }

  #finishCancelled(): void {
    const message = this.#sessionUri === undefined ? "the upload was cancelled before a session existed" : "the upload was cancelled and its session deleted";
    this.#end("cancelled", new UploadError("cancelled", message, this.#sessionDetail()));
  }

  /** After a restore, the source must reach the offset the server already holds. */
  #checkSourceCoversServer(): void {
    const problem = this.#bytes.shortOfServer();
    if (problem !== undefined) this.#end("failed", new UploadError("invalid-checkpoint", problem, this.#sessionDetail()));
  }

  #assertOpen(call: string): void {
    const phase = this.#phase;
    if (this.isFinished) {
      const was = phase.name === "failed" ? "failed" : `was ${phase.name}`;
      throw new UsageError(`${call} after the upload ${was}: expected an upload in progress`, "error" in phase ? { cause: phase.error } : {});
    }
    if (this.#cancelRequested) throw new UsageError(`${call} after cancel(): expected an upload in progress`);
    if (this.#bytes.ended) throw new UsageError(`${call} after end(): the upload's length was already decided`);
  }

  #progress(): void {
    this.#events.push({ type: "progress", bytesSent: this.#bytes.highestSent, bytesPersisted: this.#bytes.persisted });
  }

  #emitSession(): void {
    const checkpoint = this.checkpoint();
    if (checkpoint !== undefined) this.#events.push({ type: "session", sessionUri: checkpoint.sessionUri, checkpoint });
  }

  /** An error about `pending`'s request: the message names it, never with the full session URI. */
  #errorAbout(pending: Pending, code: UploadErrorCode, message: string, status?: number): UploadError {
    return new UploadError(code, `${describeRequest(pending.action.request)}: ${message}`, this.#sessionDetail(status));
  }

  #sessionDetail(status?: number): { sessionUri?: string; status?: number } {
    return { ...(this.#sessionUri === undefined ? {} : { sessionUri: this.#sessionUri }), ...(status === undefined ? {} : { status }) };
  }
}
