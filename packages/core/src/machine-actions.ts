/**
 * The machine's vocabulary: what it asks the caller to do (actions), what it tells (events), and how
 * the caller reports a request that did not complete (failures). Kept apart from `machine.ts` so the
 * machine reads as rules and transitions; `machine.ts` re-exports every name here.
 */
import type { Checkpoint } from "./checkpoint.js";
import type { UploadError } from "./errors.js";
import type { ObjectResource } from "./protocol.js";
import type { TransportErrorKind, TransportRequest } from "./transport.js";

/** Why a request is sent. `finalize` is the request carrying the total (with data or empty). */
export type RequestPurpose = "start" | "chunk" | "finalize" | "query" | "cancel";

/** Send this request now, then report its outcome with `onResponse(id, …)` or `onError(id, …)`. */
export interface SendAction {
  /** Discriminant. */
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
  /** Discriminant. */
  readonly type: "wait";
  /** When to poll again, on the scale of `now`. */
  readonly until: number;
}

/** Nothing to send and nothing in flight: call `write` or `end`. */
export interface NeedDataAction {
  /** Discriminant. */
  readonly type: "need-data";
}

/** A request is outstanding: wait for its outcome. */
export interface InFlightAction {
  /** Discriminant. */
  readonly type: "in-flight";
}

/** The object is final and verified. */
export interface DoneAction {
  /** Discriminant. */
  readonly type: "done";
  /** The final object resource, verified. */
  readonly object: ObjectResource;
  /** True when `cancel()` came too late: the object had been committed before it took effect. */
  readonly committedBeforeCancel: boolean;
}

/** The upload ended in failure (or was aborted: code `aborted`). */
export interface FailedAction {
  /** Discriminant. */
  readonly type: "failed";
  /** Why: switch on its `code`. */
  readonly error: UploadError;
}

/** The upload was cancelled (its session deleted, if it had one). */
export interface CancelledAction {
  /** Discriminant. */
  readonly type: "cancelled";
}

/** What the caller should do next; the answer to {@link UploadMachine.poll}. */
export type UploadAction = SendAction | WaitAction | NeedDataAction | InFlightAction | DoneAction | FailedAction | CancelledAction;

/** How a request failed to complete: a transport's `TransportError` kind, or the driver's stall timer (`timeout`). */
export type { TransportErrorKind };

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
