/**
 * The XML multipart upload engine: sans-IO, like the resumable {@link UploadMachine}, but with
 * several requests in flight.
 *
 * The caller feeds it bytes (`write`, `end`) and outcomes (`onResponse`, `onError`), asks it what to
 * do next (`poll(now)`), and drains what it wants to tell (`pollEvent`). It performs no I/O, reads no
 * clock (time arrives as `now`), draws no randomness of its own. The same inputs give the same
 * actions, byte for byte.
 *
 * Rules (docs/protocol.md#xml-multipart-api):
 *  1. Several requests at once: `poll` returns a `send` for every request that may go now, each
 *     exactly once, one per call; call it until it answers something other than `send`. At most
 *     `parallelism` parts are cut and unacknowledged at a time; control requests (initiate, list,
 *     complete, abort, metadata) go one at a time, never beside parts of a finished stream.
 *  2. The stream is cut into parts on the schedule of `part-schedule.ts` (5 MiB minimum but the
 *     last; sizes grow for unknown lengths so any object fits in 10,000 parts). A part is cut when
 *     its bytes are all written (or `end()` makes it the last one): its views move out of the byte
 *     queue, its CRC32C (and MD5) are computed once, and it is held until GCS answers its ETag —
 *     then, and only then, its memory is let go. Memory is at most `parallelism` cut parts plus one
 *     part being filled, plus the one write that overfills it.
 *  3. Each part is retried alone: a fault on part 7 backs part 7 off and resends it whole
 *     (re-uploading a part number replaces it), while the others go on. Each part, and each
 *     control request, has its own retry budget; an ETag in hand resets nothing but that part's.
 *  4. Integrity: every part carries `x-goog-hash: crc32c=…` (and `Content-MD5` when asked) so GCS
 *     refuses a damaged part; the whole stream's CRC32C is combined from the parts' values, checked
 *     against a declared `metadata.crc32c` before completing, and compared with the object's CRC32C
 *     after completing (from the complete response's `x-goog-hash`, or a metadata GET). A mismatch
 *     is `checksum-mismatch`: the error says which object generation is left, or that it was
 *     deleted (`deleteOnMismatch`).
 *  5. Nothing is left billed by accident: a failure after the upload was initiated aborts it
 *     (`DELETE ?uploadId`) before the machine reports `failed`, unless `onFailure: "keep"`, and the
 *     error says which happened. `cancel()` aborts it too; `abort()` keeps it for a checkpoint resume.
 *  6. A complete whose outcome is unknown (connection lost, 5xx) is resent; if GCS then no longer
 *     knows the upload, the object is looked up and accepted only if its size and CRC32C are the
 *     stream's. An upload that says "failed" about an object that exists and is right is a bug.
 *  7. A machine that reached `done`, `failed`, `cancelled` or `aborted` stays there. Caller misuse
 *     throws at once ({@link UsageError}, {@link ValidationError}) and changes nothing.
 *
 * Phases:
 *
 * | phase             | what goes out                                                      |
 * | ----------------- | ------------------------------------------------------------------ |
 * | `initiating`      | `POST ?uploads` (parts are cut meanwhile, sent once the id is known) |
 * | `listing`         | after a restore: `GET ?uploadId` pages, compared with the checkpoint |
 * | `uploading`       | part `PUT`s, up to `parallelism` at once                           |
 * | `completing`      | `POST ?uploadId` with the part list                                |
 * | `verifying`       | JSON API metadata `GET` when the complete answer had no CRC32C      |
 * | `aborting`        | `DELETE ?uploadId` (cancel, or cleanup after a failure)            |
 * | `deleting-object` | `DELETE` of a mismatching object generation (`deleteOnMismatch`)   |
 * | `done` / `failed` / `cancelled` / `aborted` | the same terminal action, forever        |
 */
import { encodeBase64 } from "../base64.js";
import { ByteQueue } from "../byte-queue.js";
import type { Checksum } from "../checksum.js";
import { UploadError, UsageError, ValidationError } from "../errors.js";
import { objectOf, parseGoogHash, sameBase64, transportFailureError, type ObjectResource } from "../protocol.js";
import { RetryPolicy, transientStatuses, type GiveUp } from "../retry-policy.js";
import type { TransportRequest, TransportResponse } from "../transport.js";
import { combineCrc32c } from "./crc32c-combine.js";
import { isoTimestamp } from "../checkpoint.js";
import {
  parseMultipartCheckpoint,
  resumeOffsetOf,
  sealMultipartCheckpoint,
  type CheckpointPart,
  type MultipartCheckpoint,
} from "./multipart-checkpoint.js";
import { resolveMultipartOptions, type MultipartUploadOptions, type ResolvedMultipartOptions } from "./multipart-options.js";
import { partSchedule, type PartSchedule } from "./part-schedule.js";
import {
  abortRequest,
  completeRequest,
  deleteObjectRequest,
  describeMultipartRequest,
  initiateRequest,
  listPartsRequest,
  metadataRequest,
  partRequest,
} from "./requests.js";
import { elementText, parseListParts, xmlError } from "./xml.js";
import { fingerprintOf } from "../resolve-options.js";

/** The machine's phases (see the module header). */
export type MultipartPhase =
  | "initiating"
  | "listing"
  | "uploading"
  | "completing"
  | "verifying"
  | "aborting"
  | "deleting-object"
  | "done"
  | "failed"
  | "cancelled"
  | "aborted";

/** What a request is for. */
export type MultipartPurpose = "initiate" | "list" | "part" | "complete" | "metadata" | "abort" | "delete-object";

/** Send this request now, then report its outcome with `onResponse(id, …)` or `onError(id, …)`. */
export interface MultipartSendAction {
  /** Discriminant. */
  readonly type: "send";
  /** Identifies the request in `onResponse` / `onError`. Never reused. */
  readonly id: number;
  /** The complete request. A part's body views point into the caller's buffers: send, don't keep. */
  readonly request: TransportRequest;
  /** What the request is for. */
  readonly purpose: MultipartPurpose;
  /** The part number, for `part` requests. */
  readonly partNumber?: number;
  /** Abandon the request (report `onError(id, { kind: "timeout" })`) after this long without progress. */
  readonly idleTimeoutMs: number;
  /** Ask the auth source for fresh credentials first: this is the one retry after a 401. */
  readonly refreshCredentials?: boolean;
}

/** Nothing can be sent before `until` (a backoff): call `poll` again then. Data may still be wanted (`wantsData`). */
export interface MultipartWaitAction {
  /** Discriminant. */
  readonly type: "wait";
  /** Poll again at or after this time (same scale as `now`). */
  readonly until: number;
}

/** Nothing to send; the machine wants bytes (`write`) or the end (`end`). Requests may be in flight. */
export interface MultipartNeedDataAction {
  /** Discriminant. */
  readonly type: "need-data";
}

/** Nothing to send, no data wanted: wait for the outstanding requests' outcomes. */
export interface MultipartInFlightAction {
  /** Discriminant. */
  readonly type: "in-flight";
}

/** The object is complete and verified. */
export interface MultipartDoneAction {
  /** Discriminant. */
  readonly type: "done";
  /** The completed object (from the complete answer's headers, or the metadata lookup). */
  readonly object: ObjectResource;
  /** True when `cancel()` came while the complete request was already on its way and it succeeded. */
  readonly committedBeforeCancel: boolean;
}

/** The upload failed (or was aborted: code `aborted`). */
export interface MultipartFailedAction {
  /** Discriminant. */
  readonly type: "failed";
  /** Why; its message says whether the multipart upload was aborted or kept. */
  readonly error: UploadError;
}

/** The upload was cancelled (the multipart upload aborted, if one existed). */
export interface MultipartCancelledAction {
  /** Discriminant. */
  readonly type: "cancelled";
}

/** What to do next; the answer to {@link MultipartMachine.poll}. */
export type MultipartAction =
  | MultipartSendAction
  | MultipartWaitAction
  | MultipartNeedDataAction
  | MultipartInFlightAction
  | MultipartDoneAction
  | MultipartFailedAction
  | MultipartCancelledAction;

/** How a request failed to complete (a transport rejection, or the driver's stall timer). */
export interface MultipartTransportFailure {
  /** Every kind means "outcome unknown", except `auth` (the credentials could not be obtained: fatal). */
  readonly kind: "network" | "timeout" | "aborted" | "truncated" | "auth";
  /** The underlying error, kept as the `cause`. */
  readonly cause?: unknown;
}

/** Something the adapter may want to know; drained with {@link MultipartMachine.pollEvent}. */
export type MultipartEvent =
  /** The multipart upload exists (initiated, or restored and listed): the moment to save a checkpoint. */
  | { readonly type: "session"; readonly uploadId: string; readonly checkpoint: MultipartCheckpoint }
  /** A part's ETag is in hand and its memory released: the checkpoint grew (save it, coalesced). */
  | { readonly type: "part"; readonly partNumber: number; readonly size: number }
  /** Bytes handed to the transport at least once / in parts GCS acknowledged. `bytesPersisted` never decreases. */
  | { readonly type: "progress"; readonly bytesSent: number; readonly bytesPersisted: number }
  /** A request failed transiently and is retried alone after `delayMs`. */
  | { readonly type: "retry"; readonly attempt: number; readonly delayMs: number; readonly error: UploadError; readonly partNumber?: number }
  /** A restored upload was listed: parts kept, parts to send again, where the source resumes. */
  | { readonly type: "resumed"; readonly resumeOffset: number; readonly partsKept: number; readonly partsLost: number }
  /** Aborting the multipart upload (cancel) could not be confirmed: its parts may remain billed. */
  | { readonly type: "abort-incomplete"; readonly error: UploadError };

/** The retry state of one part or control request: its own policy (budget, deadline window). */
interface Attempts {
  readonly policy: RetryPolicy;
  /** Not before this time (a backoff); 0 when it may go at once. */
  readyAt: number;
  /** The next attempt asks for fresh credentials (after a first 401). */
  refresh: boolean;
  refreshed: boolean;
}

interface Part {
  readonly number: number;
  readonly size: number;
  /** The part's bytes, held until its ETag is in hand. */
  body: Uint8Array[];
  readonly crc32c: number | undefined;
  readonly hash: string | undefined;
  readonly md5: string | undefined;
  inFlight: number | undefined;
  readonly attempts: Attempts;
}

/** Why the machine aborts the multipart upload: the caller's cancel, or a failure to report once it is aborted. */
type AbortReason = { readonly kind: "cancel" } | { readonly kind: "failure"; readonly error: UploadError };

interface Outstanding {
  readonly purpose: MultipartPurpose;
  readonly request: TransportRequest;
  readonly partNumber: number | undefined;
}

/** What the current control request is for (one at a time). */
interface Control {
  readonly purpose: Exclude<MultipartPurpose, "part">;
  readonly attempts: Attempts;
  inFlight: number | undefined;
}

const NEED_DATA: MultipartNeedDataAction = { type: "need-data" };
const IN_FLIGHT: MultipartInFlightAction = { type: "in-flight" };
const CANCELLED: MultipartCancelledAction = { type: "cancelled" };
const failureKinds: ReadonlySet<string> = new Set(["network", "timeout", "aborted", "truncated", "auth"]);


function crcBytes(value: number): Uint8Array {
  return new Uint8Array([value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]);
}

/** ETags compared as GCS means them: quotes and a weak prefix are presentation. */
function sameEtag(a: string, b: string): boolean {
  const bare = (e: string): string => e.trim().replace(/^W\//, "").replace(/^"|"$/g, "");
  return bare(a) === bare(b);
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : typeof value;
}

/**
 * The XML multipart upload engine. See the module header for its rules.
 *
 * @example
 * ```ts
 * const machine = new MultipartMachine({ bucket: "b", name: "o", random: Math.random, checksums, parallelism: 4 });
 * machine.write(bytes);
 * machine.end();
 * for (let action = machine.poll(now()); action.type === "send"; action = machine.poll(now())) {
 *   transport.send(action.request, { signal }).then(
 *     (response) => machine.onResponse(action.id, response, now()),
 *     (cause) => machine.onError(action.id, { kind: "network", cause }, now()),
 *   );
 * } // then: wait / need-data / in-flight / done / failed / cancelled
 * ```
 */
export class MultipartMachine {
  readonly #o: ResolvedMultipartOptions;
  readonly #fingerprint: string;
  readonly #wallClock: (() => number) | undefined;
  #schedule: PartSchedule;
  #partSize: number;
  #declaredTotal: number | undefined;
  #queue = new ByteQueue(0);
  #phase: MultipartPhase = "initiating";
  #uploadId: string | undefined;
  #createdAt: string | undefined;
  #resumeOffset = 0;
  #nextPart = 1;
  /** Cut parts awaiting their ETag. */
  readonly #pending = new Map<number, Part>();
  /** Parts whose ETag is in hand (this process, or the checkpoint confirmed by the listing). */
  readonly #done = new Map<number, CheckpointPart>();
  /** Checkpoint parts beyond the resume offset: when the source replays them they are checked, not sent. */
  readonly #known = new Map<number, CheckpointPart>();
  /** The checkpoint being restored, until the listing has been compared with it. */
  #restoring: MultipartCheckpoint | undefined;
  #listed = new Map<number, { etag: string; size: number }>();
  #listMarker: number | undefined;
  /** CRC32C of every cut byte, combined part by part. */
  #crc = 0;
  #ended = false;
  #total: number | undefined;
  #bytesSent = 0;
  #bytesPersisted = 0;
  #control: Control | undefined;
  readonly #outstanding = new Map<number, Outstanding>();
  /** Ids whose late outcome is accepted and ignored (abandoned by a failure, a cancel or an abort). */
  readonly #abandoned = new Set<number>();
  #nextId = 1;
  /** A complete was sent whose outcome is unknown (lost response, 5xx): a later 404 may mean it worked. */
  #completeMayHaveWorked = false;
  /** A restored upload GCS no longer knows: the replayed source is only checksummed, then the object looked up. */
  #uploadGone = false;
  #completeGeneration: string | undefined;
  #completeObject: Record<string, unknown> | undefined;
  /** Why the machine is aborting the upload: the caller's cancel, or a failure to report after. */
  #abortFor: AbortReason | undefined;
  /** The mismatch to report once the object generation is deleted. */
  #mismatch: UploadError | undefined;
  #cancelRequested = false;
  /**
   * `abort()` came after the complete was sent: the error to end with once GCS's answer (or one
   * metadata lookup) shows that no object of this stream exists.
   */
  #keepRequested: UploadError | undefined;
  #committedBeforeCancel = false;
  #object: ObjectResource | undefined;
  #error: UploadError | undefined;
  #events: MultipartEvent[] = [];

  /**
   * @param options - validated at once.
   * @param wallClock - epoch milliseconds, for the checkpoint's `createdAt` (optional).
   * @throws ValidationError naming the first malformed option.
   */
  constructor(options: MultipartUploadOptions, wallClock?: () => number) {
    this.#o = resolveMultipartOptions(options);
    this.#wallClock = wallClock;
    this.#fingerprint = fingerprintOf(this.#o.base.target, this.#o.base.crc32c !== undefined, options.encryptionKey?.sha256);
    this.#partSize = this.#o.partSize;
    this.#declaredTotal = this.#o.totalSize;
    this.#total = this.#declaredTotal;
    this.#schedule = partSchedule(this.#partSize, this.#declaredTotal);
    this.#control = { purpose: "initiate", attempts: this.#attempts(), inFlight: undefined };
  }

  /**
   * Recreates a machine from a {@link MultipartCheckpoint}. The options must describe the same
   * upload (same fingerprint); the checkpoint's part size is used whatever the options say. The
   * restored machine first lists the parts GCS holds; the caller writes the source from
   * {@link MultipartMachine.resumeOffset}.
   *
   * @throws UploadError code `invalid-checkpoint`; ValidationError for malformed options.
   */
  static restore(checkpoint: unknown, options: MultipartUploadOptions, wallClock?: () => number): MultipartMachine {
    const parsed = parseMultipartCheckpoint(checkpoint);
    const machine = new MultipartMachine(options, wallClock);
    machine.#restore(parsed);
    return machine;
  }

  #restore(cp: MultipartCheckpoint): void {
    if (cp.fingerprint !== this.#fingerprint) {
      throw new UploadError(
        "invalid-checkpoint",
        `multipart checkpoint: expected fingerprint ${this.#fingerprint} (from these options), came ${cp.fingerprint}: it belongs to another upload (target, checksum or encryption key differ)`,
      );
    }
    const crcOn = this.#o.base.crc32c !== undefined;
    if (crcOn && cp.parts.some((p) => p.crc32c === undefined)) {
      throw new UploadError("invalid-checkpoint", "multipart checkpoint: expected a crc32c on every part (these options compute CRC32C), came parts without one");
    }
    if (this.#o.totalSize !== undefined && cp.totalSize !== this.#o.totalSize) {
      throw new UploadError("invalid-checkpoint", `multipart checkpoint: expected totalSize ${this.#o.totalSize} (from the options), came ${cp.totalSize ?? "none"}`);
    }
    this.#partSize = cp.partSize;
    this.#declaredTotal = cp.totalSize;
    this.#total = cp.totalSize;
    this.#schedule = partSchedule(cp.partSize, cp.totalSize);
    const { offset, nextPart } = resumeOffsetOf(cp);
    this.#resumeOffset = offset;
    this.#nextPart = nextPart;
    this.#queue = new ByteQueue(offset);
    this.#uploadId = cp.uploadId;
    this.#createdAt = cp.createdAt;
    this.#restoring = cp;
    this.#phase = "listing";
    this.#control = { purpose: "list", attempts: this.#attempts(), inFlight: undefined };
  }

  /** A fresh retry state: each part and each control request has its own budget (rule 3). */
  #attempts(): Attempts {
    return { policy: new RetryPolicy(this.#o.base.retry, this.#o.base.random), readyAt: 0, refresh: false, refreshed: false };
  }

  // ---------------------------------------------------------------------------------------------
  // Getters
  // ---------------------------------------------------------------------------------------------

  /** The current phase (see the module header). */
  get phase(): MultipartPhase {
    return this.#phase;
  }

  /** True once the machine reached `done`, `failed`, `cancelled` or `aborted` (it stays there). */
  get isFinished(): boolean {
    const p = this.#phase;
    return p === "done" || p === "failed" || p === "cancelled" || p === "aborted";
  }

  /** The multipart upload id (a secret), once initiated or restored. */
  get uploadId(): string | undefined {
    return this.#uploadId;
  }

  /** Absolute stream offset just past the last byte written (starts at `resumeOffset`). */
  get bytesWritten(): number {
    return this.#queue.endOffset;
  }

  /** Bytes of parts handed to the transport at least once (or found on the server after a restore). */
  get bytesSent(): number {
    return this.#bytesSent;
  }

  /** Bytes in parts whose ETag is in hand. Never decreases. */
  get bytesPersisted(): number {
    return this.#bytesPersisted;
  }

  /** Bytes held in memory: parts awaiting their ETag plus the part being filled. */
  get bytesBuffered(): number {
    let held = this.#queue.retainedBytes;
    for (const part of this.#pending.values()) held += part.size;
    return held;
  }

  /** The most memory the machine holds when writes respect `wantsData` (one write may overfill it). */
  get memoryBound(): number {
    return (this.#o.parallelism + 1) * this.#schedule.sizeOf(this.#nextPart);
  }

  /** Parts in flight at once, at most. */
  get parallelism(): number {
    return this.#o.parallelism;
  }

  /** The size the next part to be cut will have (the last may be shorter). */
  get nextPartSize(): number {
    return this.#schedule.sizeOf(this.#nextPart);
  }

  /** The total size once known (declared, or decided by `end()`). */
  get totalSize(): number | undefined {
    return this.#total;
  }

  /** The offset the source must be written from: 0, or after the checkpoint's completed prefix. */
  get resumeOffset(): number {
    return this.#resumeOffset;
  }

  /** Ids of the requests whose outcomes the machine still waits for (a driver aborts any other it holds). */
  get outstandingIds(): readonly number[] {
    return [...this.#outstanding.keys()];
  }

  /**
   * The backpressure signal: true while the machine is ready for another `write` (or `end`): the
   * stream is open and the part being filled is not full yet. Writes while false are accepted but
   * grow memory beyond {@link MultipartMachine.memoryBound}: wait.
   */
  get wantsData(): boolean {
    if (this.isFinished || this.#ended || this.#cancelRequested) return false;
    if (this.#phase !== "initiating" && this.#phase !== "listing" && this.#phase !== "uploading") return false;
    if (this.#declaredTotal !== undefined && this.#queue.endOffset >= this.#declaredTotal) return true;
    return this.#queue.retainedBytes < this.#schedule.sizeOf(this.#nextPart);
  }

  /** The completed object, once `done`. */
  get object(): ObjectResource | undefined {
    return this.#object;
  }

  /** Why the upload ended, once `failed`, `aborted` or `cancelled`. */
  get error(): UploadError | undefined {
    return this.#error;
  }

  /** True when the machine ended `done` although `cancel()` had been called (the complete was already on its way). */
  get committedBeforeCancel(): boolean {
    return this.#committedBeforeCancel;
  }

  // ---------------------------------------------------------------------------------------------
  // Checkpoint
  // ---------------------------------------------------------------------------------------------

  /**
   * A JSON-serialisable snapshot to resume from in another process, or `undefined` when there is
   * nothing to resume (not initiated yet, done, cancelled, or the upload was aborted after a failure).
   */
  checkpoint(): MultipartCheckpoint | undefined {
    if (this.#uploadId === undefined || this.#phase === "done" || this.#phase === "cancelled") return undefined;
    if (this.#phase === "failed" && this.#o.onFailure === "abort-upload" && this.#abortFor?.kind === "failure") return undefined;
    const parts = [...this.#done.values()].sort((a, b) => a.partNumber - b.partNumber);
    return sealMultipartCheckpoint({
      version: 1,
      kind: "xml-multipart",
      uploadId: this.#uploadId,
      partSize: this.#partSize,
      ...(this.#declaredTotal === undefined ? {} : { totalSize: this.#declaredTotal }),
      parts,
      fingerprint: this.#fingerprint,
      ...(this.#createdAt === undefined ? {} : { createdAt: this.#createdAt }),
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Input
  // ---------------------------------------------------------------------------------------------

  /**
   * Hands the machine the next bytes of the source, by reference: do not modify `bytes` until the
   * upload is done. Empty arrays are accepted and ignored.
   *
   * @throws ValidationError when `bytes` is not a Uint8Array.
   * @throws UsageError after `end()`, `cancel()`, once finished, or past the declared total.
   */
  write(bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw new ValidationError("write(bytes)", `expected a Uint8Array, came ${describeValue(bytes)}`);
    this.#assertOpen("write()");
    const end = this.#queue.endOffset;
    if (this.#declaredTotal !== undefined && end + bytes.length > this.#declaredTotal) {
      throw new UsageError(`write() of ${bytes.length} bytes after ${end}: expected at most ${this.#declaredTotal} bytes in all (the declared totalSize), came ${end + bytes.length}`);
    }
    this.#queue.push(bytes);
  }

  /**
   * Declares the end of the source. The last part is cut from what remains, and once every part has
   * its ETag the upload is completed.
   *
   * @throws UsageError when already ended, cancelled or finished, or short of the declared total.
   */
  end(): void {
    this.#assertOpen("end()");
    const end = this.#queue.endOffset;
    if (this.#declaredTotal !== undefined && end !== this.#declaredTotal) {
      throw new UsageError(`end() after ${end} bytes: expected ${this.#declaredTotal} (the declared totalSize)`);
    }
    this.#ended = true;
    this.#total = end;
  }

  /**
   * Cancels: parts in flight are abandoned, the multipart upload (if any) is aborted, then the
   * machine ends `cancelled`. An initiate in flight is let finish (its id is needed to abort what
   * it created); a complete in flight is let finish too, and if it succeeded the machine ends `done`
   * with `committedBeforeCancel`. No-op once finished or already cancelling.
   */
  cancel(): void {
    if (this.isFinished || this.#cancelRequested) return;
    this.#cancelRequested = true;
    for (const part of this.#pending.values()) this.#abandonPart(part);
    const control = this.#control;
    if (control !== undefined && control.inFlight !== undefined && (control.purpose === "initiate" || control.purpose === "complete" || control.purpose === "abort")) {
      // Let it settle: its answer decides what exists.
      if (control.purpose === "abort") this.#abortFor = { kind: "cancel" };
      return;
    }
    if (control?.inFlight !== undefined) this.#abandon(control.inFlight);
    if (this.#phase === "deleting-object" || this.#phase === "verifying") {
      // The object exists already; only its verification or a mismatch cleanup remained: finish it.
      this.#cancelRequested = false;
      return;
    }
    this.#startAbort({ kind: "cancel" });
  }

  /**
   * Stops without aborting the multipart upload: the machine ends `aborted` (a `failed` action
   * with code `aborted`) and `checkpoint()` still describes the upload. Requests in flight are
   * abandoned. Once the complete request was sent, though, whether the object exists is GCS's
   * answer: the machine lets the complete settle (or, if its outcome is unknown, looks the object
   * up once) and ends `done` when this stream's object exists, so an abort never reports "kept"
   * about an object that was committed. No-op once finished.
   */
  abort(reason?: unknown): void {
    if (this.isFinished || this.#keepRequested !== undefined) return;
    const error = new UploadError("aborted", "the upload was aborted by the caller; the multipart upload is kept and can be resumed from its checkpoint", {
      ...(reason === undefined ? {} : { cause: reason }),
    });
    const control = this.#control;
    const completing = control?.purpose === "complete" && (control.inFlight !== undefined || this.#completeMayHaveWorked);
    if (completing || this.#phase === "verifying" || this.#phase === "deleting-object") {
      this.#keepRequested = error;
      for (const part of this.#pending.values()) this.#abandonPart(part);
      // A complete waiting out a backoff after an unknown outcome: one lookup instead of a resend.
      if (control?.purpose === "complete" && control.inFlight === undefined) this.#lookUpAfterComplete();
      return;
    }
    this.#endKept(error);
  }

  #endKept(error: UploadError): void {
    this.#abandonAll();
    this.#control = undefined;
    this.#phase = "aborted";
    this.#error = error;
  }

  /** The complete's outcome is unknown: whether the object exists decides what is reported. */
  #lookUpAfterComplete(): void {
    this.#completeMayHaveWorked = true;
    this.#completeGeneration = undefined;
    this.#startVerify();
  }

  // ---------------------------------------------------------------------------------------------
  // Output
  // ---------------------------------------------------------------------------------------------

  /**
   * What to do next. Returns each `send` once; call again until the answer is not a `send`.
   *
   * @param now - the caller's monotonic clock, ms.
   */
  poll(now: number): MultipartAction {
    if (typeof now !== "number" || !Number.isFinite(now)) throw new ValidationError("poll(now)", `expected a finite number, came ${String(now)}`);
    switch (this.#phase) {
      case "done":
        return { type: "done", object: this.#object!, committedBeforeCancel: this.#committedBeforeCancel };
      case "failed":
      case "aborted":
        return { type: "failed", error: this.#error! };
      case "cancelled":
        return CANCELLED;
      case "initiating":
        this.#cut();
        if (this.isFinished) return this.poll(now);
        return this.#sendControl(now, "initiate", () => initiateRequest(this.#o));
      case "listing":
        return this.#sendControl(now, "list", () => listPartsRequest(this.#o, this.#uploadId!, this.#listMarker));
      case "uploading":
        return this.#pollUploading(now);
      case "completing":
        return this.#sendControl(now, "complete", () => completeRequest(this.#o, this.#uploadId!, this.#partList()));
      case "verifying":
        return this.#sendControl(now, "metadata", () => metadataRequest(this.#o, this.#completeGeneration));
      case "aborting":
        return this.#sendControl(now, "abort", () => abortRequest(this.#o, this.#uploadId!));
      case "deleting-object":
        return this.#sendControl(now, "delete-object", () => deleteObjectRequest(this.#o, this.#completeGeneration!));
    }
  }

  /** The next event for the adapter, or `undefined` when there is none. Drain after every input. */
  pollEvent(): MultipartEvent | undefined {
    return this.#events.shift();
  }

  #pollUploading(now: number): MultipartAction {
    this.#cut();
    if (this.#phase !== "uploading") return this.poll(now);
    let next: Part | undefined;
    let wakeAt = Number.POSITIVE_INFINITY;
    for (const part of this.#pending.values()) {
      if (part.inFlight !== undefined) continue;
      if (part.attempts.readyAt > now) {
        wakeAt = Math.min(wakeAt, part.attempts.readyAt);
        continue;
      }
      // Lowest part number first: the earliest bytes are the ones a resume would need.
      if (next === undefined || part.number < next.number) next = part;
    }
    if (next !== undefined) return this.#sendPart(next);
    if (this.#ended && this.#pending.size === 0 && this.#queue.retainedBytes === 0) {
      const declared = this.#o.declaredCrc32c;
      if (declared !== undefined && !sameBase64(declared, crcBytes(this.#crc))) {
        this.#failWith(
          new UploadError(
            "checksum-mismatch",
            `the source's CRC32C is ${encodeBase64(crcBytes(this.#crc))} but metadata.crc32c declared ${declared}: the upload was not completed`,
          ),
        );
        return this.poll(now);
      }
      if (this.#uploadGone) {
        this.#startVerify();
        return this.poll(now);
      }
      this.#phase = "completing";
      this.#control = { purpose: "complete", attempts: this.#attempts(), inFlight: undefined };
      return this.poll(now);
    }
    return this.#idle(wakeAt);
  }

  /** Nothing to send now: a wait for the earliest backoff, else need-data, else in-flight. */
  #idle(wakeAt: number): MultipartAction {
    if (Number.isFinite(wakeAt)) return { type: "wait", until: wakeAt };
    if (this.wantsData || (!this.#ended && this.#outstanding.size === 0)) return NEED_DATA;
    return this.#outstanding.size > 0 ? IN_FLIGHT : NEED_DATA;
  }

  #sendControl(now: number, purpose: Control["purpose"], build: () => TransportRequest): MultipartAction {
    const control = this.#control!;
    if (control.inFlight !== undefined) return this.#idle(Number.POSITIVE_INFINITY);
    if (control.attempts.readyAt > now) return this.#idle(control.attempts.readyAt);
    const action = this.#send(purpose, build(), undefined, control.attempts);
    control.inFlight = action.id;
    return action;
  }

  #sendPart(part: Part): MultipartSendAction {
    const request = partRequest(this.#o, this.#uploadId!, part.number, part.body, part.size, part.hash, part.md5);
    const action = this.#send("part", request, part.number, part.attempts);
    part.inFlight = action.id;
    if (part.attempts.policy.failuresInARow === 0 && !part.attempts.refreshed) {
      this.#bytesSent += part.size;
      this.#events.push({ type: "progress", bytesSent: this.#bytesSent, bytesPersisted: this.#bytesPersisted });
    }
    return action;
  }

  #send(purpose: MultipartPurpose, request: TransportRequest, partNumber: number | undefined, attempts: Attempts): MultipartSendAction {
    const id = this.#nextId++;
    const refresh = attempts.refresh;
    attempts.refresh = false;
    this.#outstanding.set(id, { purpose, request, partNumber });
    return {
      type: "send",
      id,
      request,
      purpose,
      ...(partNumber === undefined ? {} : { partNumber }),
      idleTimeoutMs: this.#o.base.retry.idleTimeoutMs,
      ...(refresh ? { refreshCredentials: true } : {}),
    };
  }

  /**
   * Cuts every part whose bytes are all here, while fewer than `parallelism` await their ETag.
   * Parts a restored checkpoint already holds are checked against the replayed bytes and dropped.
   */
  #cut(): void {
    for (;;) {
      const number = this.#nextPart;
      const size = this.#schedule.sizeOf(number);
      const available = this.#queue.retainedBytes;
      let take: number;
      if (available >= size) take = size;
      else if (this.#ended && (available > 0 || number === 1)) take = available;
      else return;
      const known = this.#known.get(number);
      if (known === undefined && !this.#uploadGone && this.#pending.size >= this.#o.parallelism) return;
      const from = this.#queue.oldestOffset;
      const body = this.#queue.release(from + take);
      let crc: number | undefined;
      let md5: string | undefined;
      if (this.#o.base.crc32c !== undefined) {
        const running = this.#o.base.crc32c(0);
        for (const view of body) running.update(view);
        crc = running.value() >>> 0;
        this.#crc = combineCrc32c(this.#crc, crc, take);
      }
      this.#nextPart++;
      if (known !== undefined) {
        this.#known.delete(number);
        if (known.size !== take || (crc !== undefined && known.crc32c !== crc)) {
          this.#failWith(
            new UploadError(
              "invalid-checkpoint",
              `part ${number} of the restored upload holds ${known.size} bytes with CRC32C ${known.crc32c ?? "unknown"}, but the source replayed ${take} bytes with CRC32C ${crc ?? "unknown"} there: this is not the source the upload was started with`,
            ),
          );
          return;
        }
        continue;
      }
      if (this.#uploadGone) {
        if (this.#ended && this.#queue.retainedBytes === 0) return;
        continue;
      }
      if (this.#o.md5) {
        const digest: Checksum = this.#o.base.md5!();
        for (const view of body) digest.update(view);
        md5 = encodeBase64(digest.digest());
      }
      this.#pending.set(number, {
        number,
        size: take,
        body,
        crc32c: crc,
        hash: crc === undefined ? undefined : encodeBase64(crcBytes(crc)),
        md5,
        inFlight: undefined,
        attempts: this.#attempts(),
      });
      if (this.#ended && this.#queue.retainedBytes === 0) return;
    }
  }

  #partList(): { partNumber: number; etag: string }[] {
    return [...this.#done.values()].sort((a, b) => a.partNumber - b.partNumber).map((p) => ({ partNumber: p.partNumber, etag: p.etag }));
  }

  // ---------------------------------------------------------------------------------------------
  // Event handlers
  // ---------------------------------------------------------------------------------------------

  /**
   * Reports the complete response to request `id`.
   *
   * @throws UsageError when `id` is not an outstanding request (or was already reported).
   * @throws ValidationError when `response` is not a response.
   */
  onResponse(id: number, response: TransportResponse, now: number): void {
    if (typeof response !== "object" || response === null || typeof response.status !== "number" || typeof response.headers !== "object" || typeof response.body !== "string") {
      throw new ValidationError("onResponse(response)", `expected { status: number, headers: object, body: string }, came ${describeValue(response)}`);
    }
    const out = this.#settle(id, "onResponse");
    if (out === undefined) return;
    if (out.purpose === "part") return this.#onPartResponse(this.#pending.get(out.partNumber!)!, out, response, now);
    const control = this.#control!;
    control.inFlight = undefined;
    const status = response.status;
    const what = describeMultipartRequest(out.request);
    if (status === 401 && !control.attempts.refreshed) {
      control.attempts.refresh = true;
      control.attempts.refreshed = true;
      return;
    }
    if (transientStatuses.has(status) || this.#xmlTransient(status, response)) {
      if (out.purpose === "complete") this.#completeMayHaveWorked = true;
      if (this.#cancelledMidway(out.purpose)) return;
      return this.#retryControl(control, now, this.#transientError(out.request, response));
    }
    switch (out.purpose) {
      case "initiate":
        return this.#onInitiated(out, response);
      case "list":
        return this.#onListed(out, response);
      case "complete":
        return this.#onCompleted(out, response);
      case "metadata":
        return this.#onMetadata(out, response);
      case "abort":
        if (status === 404 && this.#completeMayHaveWorked && this.#abortFor?.kind === "cancel" && this.#completeObject === undefined) {
          // Gone after a complete whose answer was lost: the object may exist. Look before saying "cancelled".
          this.#completeGeneration = undefined;
          return this.#startVerify();
        }
        if (status === 204 || status === 200 || status === 404) return this.#onAborted(undefined);
        return this.#onAborted(this.#errorFor(out.request, response, "abort"));
      case "delete-object": {
        const mismatch = this.#mismatch!;
        const generation = this.#completeGeneration!;
        if (status === 204 || status === 200 || status === 404) {
          return this.#fail(this.#withSuffix(mismatch, `; the mismatching object (generation ${generation}) was deleted`));
        }
        const error = this.#errorFor(out.request, response, "delete-object");
        return this.#fail(this.#withSuffix(mismatch, `; deleting the mismatching object failed too (${error.message}): gs://${this.#o.bucket}/${this.#o.name} generation ${generation} is left in place`));
      }
      default:
        throw new Error(`${what}: no handler`);
    }
  }

  /**
   * Reports that request `id` did not complete. All kinds but `auth` mean "outcome unknown": the
   * request is retried after a backoff (a part alone; a complete is resent, then looked up).
   *
   * @throws UsageError when `id` is not an outstanding request.
   * @throws ValidationError when `failure.kind` is not one of the kinds.
   */
  onError(id: number, failure: MultipartTransportFailure, now: number): void {
    if (typeof failure !== "object" || failure === null || !failureKinds.has(failure.kind)) {
      throw new ValidationError("onError(failure)", `expected { kind: "network" | "timeout" | "aborted" | "truncated" | "auth" }, came ${describeValue(failure)}`);
    }
    const out = this.#settle(id, "onError");
    if (out === undefined) return;
    const what = describeMultipartRequest(out.request);
    if (failure.kind === "auth") {
      if (out.purpose === "part") this.#pending.get(out.partNumber!)!.inFlight = undefined;
      else this.#control!.inFlight = undefined;
      // The auth library's reason is the message's point (a missing key file, no ADC): the shared wording carries it.
      const error = transportFailureError(out.request, failure, { idleTimeoutMs: this.#o.base.retry.idleTimeoutMs, sessionUri: undefined });
      if (out.purpose === "abort") return this.#onAborted(error);
      if (out.purpose === "delete-object") return this.#fail(this.#withSuffix(this.#mismatch!, `; the mismatching object could not be deleted (${error.message})`));
      return this.#failWith(error);
    }
    const error = new UploadError("transient", `${what}: ${failureText(failure.kind, this.#o.base.retry.idleTimeoutMs)}`, { cause: failure.cause });
    if (out.purpose === "part") {
      const part = this.#pending.get(out.partNumber!)!;
      part.inFlight = undefined;
      return this.#retryPart(part, now, error);
    }
    const control = this.#control!;
    control.inFlight = undefined;
    if (out.purpose === "complete") this.#completeMayHaveWorked = true;
    if (this.#cancelledMidway(out.purpose)) return;
    this.#retryControl(control, now, error);
  }

  /**
   * An initiate or complete that cancel() let settle failed transiently: do not retry it. An
   * initiate's upload id is unknown, so nothing can be aborted; a complete may have worked, which
   * the abort's answer tells (see `#onAborted`).
   */
  #cancelledMidway(purpose: MultipartPurpose): boolean {
    if (!this.#cancelRequested) return false;
    if (purpose === "initiate") {
      this.#finishCancelled("the upload was cancelled while its multipart upload was being initiated (no upload id came back to abort)");
      return true;
    }
    if (purpose === "complete") {
      this.#startAbort({ kind: "cancel" });
      return true;
    }
    return false;
  }

  #onPartResponse(part: Part, out: Outstanding, response: TransportResponse, now: number): void {
    part.inFlight = undefined;
    const status = response.status;
    const what = describeMultipartRequest(out.request);
    if (status === 200) {
      const etag = response.headers.etag?.trim();
      if (etag === undefined || etag === "") {
        return this.#failWith(new UploadError("protocol-violation", `${what}: expected 200 with an ETag header for the part, came none`, { status }));
      }
      this.#pending.delete(part.number);
      // The ETag is in hand: let the part's bytes go.
      part.body = [];
      this.#done.set(part.number, { partNumber: part.number, etag, size: part.size, ...(part.crc32c === undefined ? {} : { crc32c: part.crc32c }) });
      this.#bytesPersisted += part.size;
      this.#events.push({ type: "part", partNumber: part.number, size: part.size });
      this.#events.push({ type: "progress", bytesSent: this.#bytesSent, bytesPersisted: this.#bytesPersisted });
      return;
    }
    if (status === 401 && !part.attempts.refreshed) {
      part.attempts.refresh = true;
      part.attempts.refreshed = true;
      return;
    }
    if (transientStatuses.has(status) || this.#xmlTransient(status, response)) return this.#retryPart(part, now, this.#transientError(out.request, response));
    this.#failWith(this.#errorFor(out.request, response, "part"));
  }

  #onInitiated(out: Outstanding, response: TransportResponse): void {
    const what = describeMultipartRequest(out.request);
    if (response.status !== 200) return this.#failWith(this.#errorFor(out.request, response, "initiate"));
    const uploadId = elementText(response.body, "UploadId");
    if (uploadId === undefined || !/^[\x21-\x7e]{1,4096}$/.test(uploadId)) {
      return this.#failWith(
        new UploadError("protocol-violation", `${what}: expected 200 with an InitiateMultipartUploadResult holding an UploadId, came ${uploadId === undefined ? "none" : "an unusable one"}`, {
          status: 200,
        }),
      );
    }
    this.#uploadId = uploadId;
    if (this.#wallClock !== undefined) this.#createdAt = isoTimestamp(this.#wallClock());
    this.#control = undefined;
    if (this.#cancelRequested) return this.#startAbort({ kind: "cancel" });
    this.#phase = "uploading";
    this.#events.push({ type: "session", uploadId, checkpoint: this.checkpoint()! });
  }

  #onListed(out: Outstanding, response: TransportResponse): void {
    const what = describeMultipartRequest(out.request);
    if (response.status === 404) return this.#adoptGone();
    if (response.status !== 200) return this.#failWith(this.#errorFor(out.request, response, "list"));
    const page = parseListParts(response.body);
    if (typeof page === "string") return this.#failWith(new UploadError("protocol-violation", `${what}: ${page}`, { status: 200 }));
    for (const part of page.parts) this.#listed.set(part.partNumber, { etag: part.etag, size: part.size });
    if (page.nextMarker !== undefined) {
      if (this.#listMarker !== undefined && page.nextMarker <= this.#listMarker) {
        return this.#failWith(new UploadError("protocol-violation", `${what}: the listing's NextPartNumberMarker ${page.nextMarker} does not advance past ${this.#listMarker}`, { status: 200 }));
      }
      this.#listMarker = page.nextMarker;
      this.#control!.attempts.policy.onProgress();
      return;
    }
    const cp = this.#restoring!;
    this.#restoring = undefined;
    this.#control = undefined;
    const prefixEnd = this.#nextPart;
    let kept = 0;
    let lost = 0;
    for (const part of cp.parts) {
      const listed = this.#listed.get(part.partNumber);
      if (listed !== undefined && listed.size === part.size && sameEtag(listed.etag, part.etag)) {
        kept++;
        this.#done.set(part.partNumber, part);
        this.#bytesPersisted += part.size;
        if (part.partNumber >= prefixEnd) this.#known.set(part.partNumber, part);
        continue;
      }
      if (part.partNumber < prefixEnd) {
        return this.#failWith(
          new UploadError(
            "data-lost",
            `${what}: part ${part.partNumber} (${part.size} bytes, before the resume offset ${this.#resumeOffset}) is recorded in the checkpoint but GCS no longer holds it; the source resumes after it, so its bytes cannot be sent again`,
          ),
        );
      }
      lost++;
    }
    // The prefix's CRC32C, rebuilt from the parts' values.
    let crc = 0;
    for (let n = 1; n < prefixEnd; n++) {
      const part = this.#done.get(n)!;
      if (part.crc32c !== undefined) crc = combineCrc32c(crc, part.crc32c, part.size);
    }
    this.#crc = crc;
    this.#bytesSent = this.#bytesPersisted;
    this.#listed = new Map();
    this.#phase = "uploading";
    this.#events.push({ type: "resumed", resumeOffset: this.#resumeOffset, partsKept: kept, partsLost: lost });
    this.#events.push({ type: "session", uploadId: this.#uploadId!, checkpoint: this.checkpoint()! });
    this.#events.push({ type: "progress", bytesSent: this.#bytesSent, bytesPersisted: this.#bytesPersisted });
  }

  /**
   * The restored upload is gone: the former process may have completed it before it could record
   * so (or it was aborted elsewhere). The source is replayed without sending anything, its CRC32C
   * built as usual, and once it ends the object is looked up: it is accepted only if it is this stream.
   */
  #adoptGone(): void {
    const cp = this.#restoring!;
    this.#restoring = undefined;
    this.#control = undefined;
    this.#uploadGone = true;
    let crc = 0;
    for (const part of cp.parts) {
      if (part.partNumber >= this.#nextPart) this.#known.set(part.partNumber, part);
      else if (part.crc32c !== undefined) crc = combineCrc32c(crc, part.crc32c, part.size);
    }
    this.#crc = crc;
    this.#completeMayHaveWorked = true;
    this.#phase = "uploading";
    this.#events.push({ type: "resumed", resumeOffset: this.#resumeOffset, partsKept: 0, partsLost: cp.parts.length });
  }

  #onCompleted(out: Outstanding, response: TransportResponse): void {
    const what = describeMultipartRequest(out.request);
    const status = response.status;
    if (status === 404 && this.#completeMayHaveWorked) {
      // An earlier complete may have worked and its answer was lost: GCS forgets the upload once
      // it is complete. Look the object up; it is accepted only if it is this stream.
      this.#completeGeneration = undefined;
      return this.#startVerify();
    }
    if (status !== 200) return this.#failWith(this.#errorFor(out.request, response, "complete"));
    if (!/<(?:\w+:)?CompleteMultipartUploadResult[\s>]/.test(response.body)) {
      if (xmlError(response.body).code !== undefined) return this.#failWith(this.#errorFor(out.request, response, "complete"));
      // A 200 whose body is cut or unreadable (a connection lost behind a matching length, a proxy):
      // the complete most likely worked, and calling that a failure would deny an object that exists.
      // Look the object up; it is accepted only if it is this stream (size and CRC32C).
      this.#completeMayHaveWorked = true;
      this.#completeGeneration = undefined;
      return this.#startVerify();
    }
    const headers = response.headers;
    const generation = headers["x-goog-generation"]?.trim();
    const object: Record<string, unknown> = { bucket: elementText(response.body, "Bucket") ?? this.#o.bucket, name: elementText(response.body, "Key") ?? this.#o.name };
    if (generation !== undefined) object.generation = generation;
    const metageneration = headers["x-goog-metageneration"]?.trim();
    if (metageneration !== undefined) object.metageneration = metageneration;
    const hash = parseGoogHash(headers["x-goog-hash"]);
    if (hash.crc32c !== undefined) object.crc32c = hash.crc32c;
    const stored = headers["x-goog-stored-content-length"]?.trim();
    object.size = stored ?? String(this.#total);
    const etag = elementText(response.body, "ETag");
    if (etag !== undefined) object.etag = etag;
    this.#completeGeneration = generation;
    this.#completeObject = object;
    if (this.#o.base.crc32c !== undefined && hash.crc32c === undefined) return this.#startVerify();
    this.#verify(object, what, 200);
  }

  #onMetadata(out: Outstanding, response: TransportResponse): void {
    const what = describeMultipartRequest(out.request);
    const status = response.status;
    if (this.#completeObject === undefined && this.#cancelRequested) {
      // Cancelled after a complete whose answer was lost: "cancelled" only if no object of this size exists.
      const found = status === 200 ? objectOf(response) : undefined;
      if (status === 404 || (typeof found === "object" && found.size !== String(this.#total))) {
        return this.#finishCancelled("the upload was cancelled and its multipart upload is gone; no object of this stream exists");
      }
    }
    if (this.#keepRequested !== undefined && this.#completeObject === undefined && (status === 404 || (status === 200 && !this.#isThisStream(response)))) {
      // Aborted while the complete's outcome was unknown, and no object of this stream exists: the
      // multipart upload is kept as asked (a resume lists its parts, or finds it gone).
      return this.#endKept(this.#keepRequested);
    }
    if (status === 404 && this.#completeObject === undefined) {
      // GCS no longer knows the upload: nothing is left to abort.
      return this.#fail(
        new UploadError(
          "session-expired",
          `${what}: the multipart upload is gone (the complete request's answer was lost, then GCS no longer knew the upload) and no object was found: it was aborted elsewhere`,
          { status },
        ),
      );
    }
    if (status !== 200) {
      const where = `gs://${this.#o.bucket}/${this.#o.name}`;
      return this.#fail(this.#withSuffix(this.#errorFor(out.request, response, "metadata"), `; the upload was completed but ${where} could not be looked up to verify it`));
    }
    const object = objectOf(response);
    if (typeof object === "string") return this.#fail(new UploadError("protocol-violation", `${what}: ${object}`, { status }));
    this.#control = undefined;
    if (this.#completeObject === undefined && object.size !== String(this.#total)) {
      // The lost-complete case: an object of another size is not this upload's (and the upload is gone).
      return this.#fail(
        new UploadError(
          "session-expired",
          `${what}: the multipart upload is gone (the complete request's answer was lost) and the object found holds ${String(object.size)} bytes, not this stream's ${this.#total}: it is not this upload's object`,
          { status },
        ),
      );
    }
    if (object.generation !== undefined) this.#completeGeneration = object.generation;
    this.#verify({ ...this.#completeObject, ...object }, what, status);
  }

  /** True when a metadata answer describes an object of this stream's size. */
  #isThisStream(response: TransportResponse): boolean {
    const found = objectOf(response);
    return typeof found === "object" && found.size === String(this.#total);
  }

  /** Compares the completed object with the stream: size, then CRC32C. */
  #verify(object: ObjectResource, what: string, status: number): void {
    this.#control = undefined;
    const where = `gs://${this.#o.bucket}/${this.#o.name}${object.generation === undefined ? "" : ` generation ${object.generation}`}`;
    if (object.size !== undefined && object.size !== String(this.#total)) {
      return this.#mismatchFound(new UploadError("protocol-violation", `${what}: expected the completed object to hold ${this.#total} bytes, came ${String(object.size)}; ${where} is left in place`, { status }));
    }
    if (this.#o.base.crc32c !== undefined) {
      const ours = crcBytes(this.#crc);
      if (typeof object.crc32c !== "string") {
        return this.#fail(
          new UploadError("checksum-unverifiable", `${what}: expected the completed object's CRC32C, came none, so the object could not be verified; ${where} exists unverified`, { status }),
        );
      }
      if (!sameBase64(object.crc32c, ours)) {
        return this.#mismatchFound(new UploadError("checksum-mismatch", `${what}: expected the object's CRC32C to be ${encodeBase64(ours)} (the stream's), came ${object.crc32c}`, { status }));
      }
    }
    this.#finishDone(object);
  }

  /** A completed object that is not the stream: delete it if asked, else say where it is. */
  #mismatchFound(error: UploadError): void {
    const generation = this.#completeGeneration;
    if (this.#o.deleteOnMismatch && generation !== undefined) {
      this.#mismatch = error;
      this.#phase = "deleting-object";
      this.#control = { purpose: "delete-object", attempts: this.#attempts(), inFlight: undefined };
      return;
    }
    const where = `gs://${this.#o.bucket}/${this.#o.name}${generation === undefined ? "" : ` generation ${generation}`}`;
    this.#fail(this.#withSuffix(error, error.message.includes("left in place") ? "" : `; ${where} is left in place (delete it, or pass deleteOnMismatch)`));
  }

  #startVerify(): void {
    this.#phase = "verifying";
    this.#control = { purpose: "metadata", attempts: this.#attempts(), inFlight: undefined };
  }

  /** The abort DELETE was answered (`error` undefined) or gave up. */
  #onAborted(error: UploadError | undefined): void {
    const why = this.#abortFor!;
    this.#control = undefined;
    if (why.kind === "cancel") {
      if (error !== undefined) this.#events.push({ type: "abort-incomplete", error });
      return this.#finishCancelled(error === undefined ? "the upload was cancelled and its multipart upload aborted (its parts deleted)" : `the upload was cancelled, but aborting its multipart upload failed: ${error.message}`);
    }
    const id = this.#uploadId === undefined ? "" : ` (upload id ${redact(this.#uploadId)})`;
    this.#fail(
      this.#withSuffix(
        why.error,
        error === undefined
          ? "; the multipart upload was aborted: its parts are deleted"
          : `; aborting the multipart upload failed too (${error.message}): it remains${id} and its parts stay billed until it is aborted`,
      ),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Transitions
  // ---------------------------------------------------------------------------------------------

  #settle(id: number, call: string): Outstanding | undefined {
    const out = this.#outstanding.get(id);
    if (out !== undefined) {
      this.#outstanding.delete(id);
      return out;
    }
    if (this.#abandoned.delete(id)) return undefined;
    throw new UsageError(`${call}(${String(id)}): expected the id of an outstanding request (${[...this.#outstanding.keys()].join(", ") || "there is none"}), came one that is unknown or already settled`);
  }

  #retryPart(part: Part, now: number, error: UploadError): void {
    const gaveUp = this.#scheduleRetry(part.attempts, now, error, part.number);
    if (gaveUp !== undefined) this.#failWith(this.#giveUpError(gaveUp, error, `part ${part.number}`));
  }

  #retryControl(control: Control, now: number, error: UploadError): void {
    if (this.#keepRequested !== undefined && control.purpose === "complete") return this.#lookUpAfterComplete();
    const gaveUp = this.#scheduleRetry(control.attempts, now, error, undefined);
    if (gaveUp === undefined) return;
    const final = this.#giveUpError(gaveUp, error, control.purpose);
    if (control.purpose === "abort") return this.#onAborted(final);
    if (control.purpose === "delete-object") {
      return this.#fail(this.#withSuffix(this.#mismatch!, `; deleting the mismatching object failed too (${final.message}): it is left in place`));
    }
    if (control.purpose === "metadata") {
      const where = `gs://${this.#o.bucket}/${this.#o.name}`;
      return this.#fail(this.#withSuffix(final, `; the upload was completed but ${where} could not be looked up to verify it`));
    }
    this.#failWith(final);
  }

  /** Asks the unit's policy: a backoff (scheduled, `undefined` returned), or the give-up. */
  #scheduleRetry(attempts: Attempts, now: number, error: UploadError, partNumber: number | undefined): GiveUp | undefined {
    const decision = attempts.policy.onFailure(now);
    if ("giveUp" in decision) return decision;
    attempts.readyAt = decision.retryAt;
    this.#events.push({ type: "retry", attempt: decision.attempt, delayMs: decision.delayMs, error, ...(partNumber === undefined ? {} : { partNumber }) });
    return undefined;
  }

  #giveUpError(gaveUp: GiveUp, error: UploadError, what: string): UploadError {
    const retry = this.#o.base.retry;
    const message =
      gaveUp.giveUp === "retries-exhausted"
        ? `${what}: gave up after ${gaveUp.attempt} failed attempt${gaveUp.attempt === 1 ? "" : "s"} in a row (maxAttempts ${retry.maxAttempts}); last error: ${error.message}`
        : `${what}: no progress for ${gaveUp.elapsedMs} ms; the next retry (in ${gaveUp.delayMs} ms) would begin after the ${retry.deadlineMs} ms deadline; last error: ${error.message}`;
    return new UploadError(gaveUp.giveUp, message, {
      cause: error,
      ...(error.status === undefined ? {} : { status: error.status }),
      ...(error.serverMessage === undefined ? {} : { serverMessage: error.serverMessage }),
    });
  }

  /** A failure: abort the multipart upload first (unless kept or none exists), then `failed`. */
  #failWith(error: UploadError): void {
    // After cancel(), whatever went wrong, the caller asked for the upload to go away.
    if (this.#cancelRequested) return this.#startAbort({ kind: "cancel" });
    if (this.#uploadId === undefined || this.#o.onFailure === "keep") {
      const kept = this.#uploadId === undefined ? "" : `; the multipart upload (upload id ${redact(this.#uploadId)}) is kept: resume it from its checkpoint, or abort it`;
      return this.#fail(this.#withSuffix(error, kept));
    }
    this.#startAbort({ kind: "failure", error });
  }

  #startAbort(why: AbortReason): void {
    this.#abandonAll();
    this.#abortFor = why;
    if (this.#uploadId === undefined) {
      if (why.kind === "cancel") return this.#finishCancelled("the upload was cancelled before its multipart upload existed");
      return this.#fail(why.error);
    }
    this.#phase = "aborting";
    this.#control = { purpose: "abort", attempts: this.#attempts(), inFlight: undefined };
  }

  #fail(error: UploadError): void {
    this.#abandonAll();
    this.#phase = "failed";
    this.#error = error;
  }

  #finishDone(object: ObjectResource): void {
    this.#abandonAll();
    this.#queue.release(this.#queue.endOffset);
    this.#object = object;
    this.#committedBeforeCancel = this.#cancelRequested;
    this.#phase = "done";
    this.#bytesPersisted = this.#total ?? this.#bytesPersisted;
    this.#events.push({ type: "progress", bytesSent: this.#bytesSent, bytesPersisted: this.#bytesPersisted });
  }

  #finishCancelled(message: string): void {
    this.#abandonAll();
    this.#phase = "cancelled";
    this.#error = new UploadError("cancelled", message);
  }

  #abandonPart(part: Part): void {
    if (part.inFlight !== undefined) this.#abandon(part.inFlight);
    part.inFlight = undefined;
  }

  #abandon(id: number): void {
    if (this.#outstanding.delete(id)) this.#abandoned.add(id);
  }

  #abandonAll(): void {
    for (const id of this.#outstanding.keys()) this.#abandoned.add(id);
    this.#outstanding.clear();
    for (const part of this.#pending.values()) {
      part.inFlight = undefined;
      // Nothing will send these bytes again.
      part.body = [];
    }
    this.#pending.clear();
    if (this.#control !== undefined) this.#control.inFlight = undefined;
  }

  #assertOpen(call: string): void {
    if (this.isFinished) {
      throw new UsageError(`${call} after the upload ${this.#phase === "failed" ? "failed" : `was ${this.#phase}`}: expected an upload in progress`, {
        ...(this.#error === undefined ? {} : { cause: this.#error }),
      });
    }
    if (this.#cancelRequested) throw new UsageError(`${call} after cancel(): expected an upload in progress`);
    if (this.#ended) throw new UsageError(`${call} after end(): the upload's length was already decided`);
  }

  #withSuffix(error: UploadError, suffix: string): UploadError {
    if (suffix === "") return error;
    return new UploadError(error.code, `${error.message}${suffix}`, {
      retryable: error.retryable,
      ...(error.status === undefined ? {} : { status: error.status }),
      ...(error.serverMessage === undefined ? {} : { serverMessage: error.serverMessage }),
      ...(error.cause === undefined ? {} : { cause: error.cause }),
    });
  }

  /** GCS's XML API may answer a 200 whose body is an `<Error>` (complete), or name a transient code. */
  #xmlTransient(status: number, response: TransportResponse): boolean {
    if (status !== 200) return false;
    const code = xmlError(response.body).code;
    return code === "InternalError" || code === "ServiceUnavailable" || code === "SlowDown" || code === "RequestTimeout";
  }

  #transientError(request: TransportRequest, response: TransportResponse): UploadError {
    const { code, message } = xmlError(response.body);
    const server = message ?? code;
    return new UploadError("transient", `${describeMultipartRequest(request)}: expected a definitive answer, came ${response.status}${server === undefined ? "" : ` "${server}"`} (transient)`, {
      status: response.status,
      ...(server === undefined ? {} : { serverMessage: server }),
    });
  }

  /** The typed error for a definitive refusal, by status and the XML error code. */
  #errorFor(request: TransportRequest, response: TransportResponse, purpose: MultipartPurpose): UploadError {
    const status = response.status;
    const { code, message } = xmlError(response.body);
    const json = code === undefined ? jsonMessage(response.body) : undefined;
    const server = message ?? json ?? code;
    const came = `came ${status}${code === undefined ? "" : ` ${code}`}${server === undefined || server === code ? "" : ` "${server}"`}`;
    const what = describeMultipartRequest(request);
    const details = { status, ...(server === undefined ? {} : { serverMessage: server }) };
    if (status === 401 || status === 403) return new UploadError("unauthorized", `${what}: expected the credentials to be accepted, ${came}`, details);
    if (status === 412) return new UploadError("precondition-failed", `${what}: a generation/metageneration precondition did not hold, ${came}`, details);
    if (status === 404 && (code === "NoSuchUpload" || purpose === "part" || purpose === "list" || purpose === "complete")) {
      return new UploadError("session-expired", `${what}: the multipart upload no longer exists (aborted or completed elsewhere); the upload must restart from byte 0, ${came}`, details);
    }
    if (status === 400 && (code === "BadDigest" || code === "InvalidDigest" || (server !== undefined && /checksum|digest|crc32c|md5/i.test(server)))) {
      return new UploadError("checksum-mismatch", `${what}: GCS refused the part because its bytes differ from the checksum sent with them, ${came}`, details);
    }
    if (status >= 400 && status < 500) return new UploadError("bad-request", `${what}: expected the request to be accepted, ${came}`, details);
    return new UploadError("protocol-violation", `${what}: expected ${status === 200 ? "another answer" : "200"}, ${came}`, details);
  }
}

function redact(uploadId: string): string {
  return uploadId.length <= 8 ? "…" : `${uploadId.slice(0, 4)}…${uploadId.slice(-2)}`;
}

function jsonMessage(body: string): string | undefined {
  const text = body.trim();
  if (!text.startsWith("{")) return text === "" ? undefined : text.slice(0, 500);
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string };
    if (typeof parsed.error === "string") return parsed.error;
    if (typeof parsed.error?.message === "string") return parsed.error.message;
  } catch {
    // Not JSON: the text itself below.
  }
  return text.slice(0, 500);
}

function failureText(kind: MultipartTransportFailure["kind"], idleTimeoutMs: number): string {
  switch (kind) {
    case "network":
      return "the connection failed before a complete response arrived (outcome unknown)";
    case "timeout":
      return `no progress for ${idleTimeoutMs} ms: the request stalled and was abandoned (outcome unknown)`;
    case "aborted":
      return "the request was aborted before it completed (outcome unknown)";
    case "truncated":
      return "the response was cut short (outcome unknown)";
    case "auth":
      return "the credentials could not be obtained";
  }
}
