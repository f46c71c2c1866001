/**
 * Small objects in one request: a JSON API multipart upload (`uploadType=multipart`: the object
 * resource and the bytes in one `multipart/related` body) instead of a session start plus a PUT.
 *
 * The upload layer chooses it when the source ends before the first chunk is full (and the target
 * is a bucket/object, not a minted session or a signed URL, and the caller did not opt out): the
 * whole object is then in memory, so one round trip does what the resumable path does in two.
 *
 * Rules:
 *  1. One request, sans-IO, with the resumable machine's vocabulary: `poll(now)` returns the `send`
 *     once, then `in-flight` until `onResponse` / `onError`; `wait` during a backoff; then `done`,
 *     `failed` or `cancelled`, forever.
 *  2. Integrity: the object's CRC32C (and MD5 when asked) go in the metadata part, so GCS refuses a
 *     damaged body before the object exists; the returned object's size and checksums are compared
 *     too. A `metadata.crc32c`/`md5Hash` the caller declared must agree with the bytes, or nothing
 *     is sent.
 *  3. A transient fault (408, 429, 5xx, a reset, a stall, a cut response) resends the whole request
 *     after a backoff: the bytes are in hand, and the object is these bytes either way. Without a
 *     generation precondition, a retry after a lost answer may write the same bytes again, leaving
 *     a newer generation of identical content. With one (`ifGenerationMatch: 0`), such a retry is
 *     answered 412 because the first attempt succeeded: after an attempt whose outcome was unknown,
 *     a 412 (or any other refusal) leads to a metadata lookup, and an object with this upload's size
 *     and checksums is accepted as this upload's (`done`), anything else stays the refusal. A 2xx
 *     whose body is not an object resource (cut short) is looked up the same way (resent when no
 *     CRC32C can identify the object). Preconditions,
 *     ACLs, KMS, userProject and CSEK travel exactly as on the resumable start.
 *  4. Cancel lets a request in flight settle: an object it created is reported (`done` with
 *     `committedBeforeCancel`), never called cancelled.
 */
import { decodeBase64, encodeBase64 } from "../base64.js";
import type { Checksum } from "../checksum.js";
import { UploadError, UsageError, ValidationError } from "../errors.js";
import type { UploadOptions } from "../options.js";
import { describeRequest, errorForStatus, objectOf, sameBase64, startBody, transportFailureError, type ObjectResource } from "../protocol.js";
import { RetryPolicy, transientStatuses } from "../retry-policy.js";
import { resolveOptions, type ResolvedJsonTarget, type ResolvedOptions } from "../resolve-options.js";
import type { TransportRequest, TransportResponse } from "../transport.js";
import { decodeUtf8, encodeUtf8 } from "../utf8.js";

/** Send the upload request now, then report its outcome. */
export interface SingleRequestSendAction {
  /** Discriminant. */
  readonly type: "send";
  /** Identifies the request in `onResponse` / `onError`. */
  readonly id: number;
  /** The complete request; its body views point into the caller's buffers. */
  readonly request: TransportRequest;
  /** `single`: the whole upload in one request; `lookup`: the object's metadata, after a 412 that may be an earlier attempt's success. */
  readonly purpose: "single" | "lookup";
  /** Abandon the request (report a `timeout`) after this long without progress. */
  readonly idleTimeoutMs: number;
  /** Ask the auth source for fresh credentials first: the one retry after a 401. */
  readonly refreshCredentials?: boolean;
}

/** What to do next; the answer to {@link SingleRequestUpload.poll}. */
export type SingleRequestAction =
  | SingleRequestSendAction
  | { readonly type: "wait"; readonly until: number }
  | { readonly type: "in-flight" }
  | { readonly type: "done"; readonly object: ObjectResource; readonly committedBeforeCancel: boolean }
  | { readonly type: "failed"; readonly error: UploadError }
  | { readonly type: "cancelled" };

/** Something the adapter may want to know; drained with {@link SingleRequestUpload.pollEvent}. */
export type SingleRequestEvent =
  | { readonly type: "progress"; readonly bytesSent: number; readonly bytesPersisted: number }
  | { readonly type: "retry"; readonly attempt: number; readonly delayMs: number; readonly error: UploadError };

/** How the request failed to complete. `auth`: the credentials could not be obtained (not retried). */
export interface SingleRequestFailure {
  /** What happened (see the transport contract's kinds). */
  readonly kind: "network" | "timeout" | "aborted" | "truncated" | "auth";
  /** The underlying error, kept as the `cause`. */
  readonly cause?: unknown;
}

type Phase = "ready" | "in-flight" | "backoff" | "lookup" | "looking" | "done" | "failed" | "cancelled";

const failureKinds: ReadonlySet<string> = new Set(["network", "timeout", "aborted", "truncated", "auth"]);

/**
 * The largest body this engine accepts: the layer selects it only below one chunk (8 MiB by
 * default, at most 512 MiB); beyond that one request is the wrong tool.
 */
export const MAX_SINGLE_REQUEST_SIZE = 512 * 1024 * 1024;

/** True when `needle` occurs anywhere in the concatenation of `views` (seams included). */
function occursIn(views: readonly Uint8Array[], needle: Uint8Array): boolean {
  const n = needle.length;
  let carry = new Uint8Array(0);
  for (const view of views) {
    const window = carry.length === 0 ? view : new Uint8Array([...carry, ...view.subarray(0, n - 1)]);
    if (indexOf(window, needle) !== -1) return true;
    if (carry.length !== 0 && indexOf(view, needle) !== -1) return true;
    carry = view.length >= n - 1 ? view.slice(view.length - (n - 1)) : new Uint8Array([...carry, ...view]).slice(-(n - 1));
  }
  return false;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  const first = needle[0]!;
  outer: for (let i = haystack.indexOf(first); i !== -1 && i + needle.length <= haystack.length; i = haystack.indexOf(first, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * The whole upload in one JSON API multipart request. See the module header for its rules.
 *
 * @example
 * ```ts
 * const upload = new SingleRequestUpload(options, [bytes]);
 * const action = upload.poll(now); // { type: "send", request, ... }
 * upload.onResponse(action.id, await transport.send(action.request, sendOptions), now);
 * upload.poll(now); // { type: "done", object }
 * ```
 */
export class SingleRequestUpload {
  readonly #o: ResolvedOptions;
  readonly #target: ResolvedJsonTarget;
  readonly #request: TransportRequest;
  readonly #size: number;
  readonly #crc32c: string | undefined;
  readonly #md5: string | undefined;
  #phase: Phase = "ready";
  #id = 0;
  readonly #policy: RetryPolicy;
  #retryAt = 0;
  #afterBackoff: "ready" | "lookup" = "ready";
  #refresh = false;
  #refreshed = false;
  #cancelRequested = false;
  /** An attempt's outcome was unknown (lost answer, 5xx): a later 412 may be its own success. */
  #uncertain = false;
  /** The refusal to report if the lookup after it does not find this upload's object. */
  #refusal: UploadError | undefined;
  #committedBeforeCancel = false;
  #object: ObjectResource | undefined;
  #error: UploadError | undefined;
  #events: SingleRequestEvent[] = [];

  /**
   * @param options - the resumable machine's options; the target must be `json` (a minted session
   *   or a signed URL has no one-request form). `chunkSize`/`totalSize` are not used.
   * @param body - the whole object, as views (held by reference, never copied).
   * @throws ValidationError for malformed options, a non-JSON target, or a body that disagrees
   *   with a declared `totalSize`; UploadError `checksum-mismatch` when the bytes disagree with a
   *   declared `metadata.crc32c` / `md5Hash`.
   */
  constructor(options: UploadOptions, body: readonly Uint8Array[]) {
    this.#o = resolveOptions(options);
    const target = this.#o.target;
    if (target.kind !== "json") {
      throw new ValidationError("target.kind", `a single-request upload needs a bucket and object name (JSON API), came a ${target.kind} target: use the resumable path`);
    }
    this.#target = target;
    const given: unknown = body;
    if (!Array.isArray(given) || given.some((view) => !(view instanceof Uint8Array))) throw new ValidationError("body", "expected an array of Uint8Array");
    let size = 0;
    for (const view of body) size += view.length;
    if (size > MAX_SINGLE_REQUEST_SIZE) throw new ValidationError("body", `expected at most ${MAX_SINGLE_REQUEST_SIZE} bytes in one request, came ${size}: use the resumable path`);
    if (this.#o.totalSize !== undefined && this.#o.totalSize !== size) {
      throw new ValidationError("totalSize", `expected the body to hold the declared ${this.#o.totalSize} bytes, came ${size}`);
    }
    this.#size = size;
    const digest = (make: (() => Checksum) | undefined): string | undefined => {
      if (make === undefined) return undefined;
      const sum = make();
      for (const view of body) sum.update(view);
      return encodeBase64(sum.digest());
    };
    this.#crc32c = digest(this.#o.crc32c === undefined ? undefined : () => this.#o.crc32c!(0));
    this.#md5 = digest(this.#o.md5);
    const declared = target.metadata;
    if (declared.crc32c !== undefined && this.#crc32c !== undefined && declared.crc32c !== this.#crc32c) {
      throw new UploadError("checksum-mismatch", `metadata.crc32c declares ${declared.crc32c}, but the bytes' CRC32C is ${this.#crc32c}: nothing was sent`);
    }
    if (declared.md5Hash !== undefined && this.#md5 !== undefined && declared.md5Hash !== this.#md5) {
      throw new UploadError("checksum-mismatch", `metadata.md5Hash declares ${declared.md5Hash}, but the bytes' MD5 is ${this.#md5}: nothing was sent`);
    }
    this.#request = this.#buildRequest(body);
    this.#policy = new RetryPolicy(this.#o.retry, this.#o.random);
  }

  // --- getters -----------------------------------------------------------------------------------

  /** True once `done`, `failed` or `cancelled`. */
  get isFinished(): boolean {
    return this.#phase === "done" || this.#phase === "failed" || this.#phase === "cancelled";
  }

  /** The object's size. */
  get totalSize(): number {
    return this.#size;
  }

  /** The created object, once `done`. */
  get object(): ObjectResource | undefined {
    return this.#object;
  }

  /** Why the upload ended, once `failed` or `cancelled`. */
  get error(): UploadError | undefined {
    return this.#error;
  }

  /** True when `cancel()` came while the request was on its way and it created the object. */
  get committedBeforeCancel(): boolean {
    return this.#committedBeforeCancel;
  }

  /** The id of the request in flight, if one is. */
  get outstandingId(): number | undefined {
    return this.#phase === "in-flight" || this.#phase === "looking" ? this.#id : undefined;
  }

  // --- input -------------------------------------------------------------------------------------

  /**
   * Cancels. A request in flight is let settle (its answer says whether the object exists); after an
   * attempt whose outcome is unknown the object is looked up first (one that is this upload's is
   * `done`, never called cancelled); otherwise the upload ends `cancelled` at once. No-op once finished.
   */
  cancel(): void {
    if (this.isFinished || this.#cancelRequested) return;
    this.#cancelRequested = true;
    if (this.#phase === "in-flight" || this.#phase === "looking" || this.#phase === "lookup") return;
    if (this.#uncertain && this.#crc32c !== undefined) {
      this.#refusal = new UploadError("cancelled", "the single-request upload was cancelled after an attempt whose outcome is unknown, and no object of its bytes exists");
      this.#phase = "lookup";
      return;
    }
    this.#finishCancelled("the single-request upload was cancelled before the object was created");
  }

  /** Stops at once: `failed` with code `aborted`; a request in flight is abandoned (its outcome ignored). No-op once finished. */
  abort(reason?: unknown): void {
    if (this.isFinished) return;
    this.#phase = "failed";
    this.#error = new UploadError("aborted", "the single-request upload was aborted by the caller (an object exists only if the request had reached GCS)", {
      ...(reason === undefined ? {} : { cause: reason }),
    });
  }

  // --- output ------------------------------------------------------------------------------------

  /**
   * What to do next: the `send` once per attempt, then `in-flight`, `wait` during a backoff, and
   * the terminal action forever.
   */
  poll(now: number): SingleRequestAction {
    if (typeof now !== "number" || !Number.isFinite(now)) throw new ValidationError("poll(now)", `expected a finite number, came ${String(now)}`);
    switch (this.#phase) {
      case "done":
        return { type: "done", object: this.#object!, committedBeforeCancel: this.#committedBeforeCancel };
      case "failed":
        return { type: "failed", error: this.#error! };
      case "cancelled":
        return { type: "cancelled" };
      case "in-flight":
      case "looking":
        return { type: "in-flight" };
      case "lookup":
        this.#phase = "looking";
        this.#id += 1;
        return { type: "send", id: this.#id, request: this.#lookupRequest(), purpose: "lookup", idleTimeoutMs: this.#o.retry.idleTimeoutMs };
      case "backoff":
        if (now < this.#retryAt) return { type: "wait", until: this.#retryAt };
        this.#phase = this.#afterBackoff;
        return this.poll(now);
      case "ready": {
        this.#phase = "in-flight";
        this.#id += 1;
        const refresh = this.#refresh;
        this.#refresh = false;
        if (this.#policy.failuresInARow === 0 && !this.#refreshed) this.#events.push({ type: "progress", bytesSent: this.#size, bytesPersisted: 0 });
        return {
          type: "send",
          id: this.#id,
          request: this.#request,
          purpose: "single",
          idleTimeoutMs: this.#o.retry.idleTimeoutMs,
          ...(refresh ? { refreshCredentials: true } : {}),
        };
      }
    }
  }

  /** The next event, or `undefined`. Drain after every input. */
  pollEvent(): SingleRequestEvent | undefined {
    return this.#events.shift();
  }

  // --- handlers ----------------------------------------------------------------------------------

  /**
   * Reports the complete response to request `id`.
   *
   * @throws UsageError for an id that is not the request in flight (a late outcome after `abort()` is ignored).
   */
  onResponse(id: number, response: TransportResponse, now: number): void {
    if (!this.#settle(id, "onResponse")) return;
    const status = response.status;
    if (this.#phase === "looking") return this.#onLookup(response, now);
    if (status === 200 || status === 201) return this.#onCreated(response, status, now);
    if (status === 401 && !this.#refreshed) {
      this.#refreshed = true;
      this.#refresh = true;
      this.#phase = this.#cancelRequested ? this.#phase : "ready";
      if (this.#cancelRequested) this.#finishCancelled("the single-request upload was cancelled; its request was refused (401), no object was created");
      return;
    }
    if (transientStatuses.has(status)) {
      this.#uncertain = true;
      const error = errorForStatus(this.#request, response, { forStart: true });
      return this.#retry(now, new UploadError("transient", `${describeRequest(this.#request)}: expected 200, came ${status}${error.serverMessage === undefined ? "" : ` "${error.serverMessage}"`} (transient)`, { status, ...(error.serverMessage === undefined ? {} : { serverMessage: error.serverMessage }) }));
    }
    // forStart: a 404 here means "no such bucket", not a session gone; the checksums travel in the body.
    const error = errorForStatus(this.#request, response, { forStart: true, carriedHash: this.#crc32c !== undefined || this.#md5 !== undefined });
    if (this.#uncertain && this.#crc32c !== undefined) {
      // An earlier attempt whose answer was lost may have created the object (a 412 to the resend is
      // the usual sign, but any refusal can come after it): look before calling it a failure.
      this.#refusal = error;
      this.#phase = "lookup";
      return;
    }
    if (this.#cancelRequested) return this.#finishCancelled(`the single-request upload was cancelled; its request was refused: ${error.message}`);
    this.#fail(error);
  }

  /** The metadata lookup after a 412: this upload's object (size and checksums) is success. */
  #onLookup(response: TransportResponse, now: number): void {
    const precondition = this.#refusal!;
    if (transientStatuses.has(response.status)) {
      this.#phase = "lookup";
      return this.#retry(now, new UploadError("transient", `${describeRequest(this.#lookupRequest())}: came ${response.status} (transient)`, { status: response.status }), "lookup");
    }
    const object = response.status === 200 ? objectOf(response) : undefined;
    const ours =
      typeof object === "object" &&
      object.size === String(this.#size) &&
      typeof object.crc32c === "string" &&
      sameBase64(object.crc32c, decodeB64(this.#crc32c!)) &&
      (this.#md5 === undefined || (typeof object.md5Hash === "string" && sameBase64(object.md5Hash, decodeB64(this.#md5))));
    if (ours) {
      this.#object = object;
      this.#committedBeforeCancel = this.#cancelRequested;
      this.#phase = "done";
      this.#events.push({ type: "progress", bytesSent: this.#size, bytesPersisted: this.#size });
      return;
    }
    if (this.#cancelRequested) return this.#finishCancelled(`the single-request upload was cancelled; no object of its bytes exists (${precondition.message})`);
    this.#fail(precondition);
  }

  #lookupRequest(): TransportRequest {
    const t = this.#target;
    const project = t.query.find(([k]) => k === "userProject");
    const url = `${t.endpoint}/storage/v1/b/${encodeURIComponent(t.bucket)}/o/${encodeURIComponent(t.name)}${project === undefined ? "" : `?userProject=${encodeURIComponent(project[1])}`}`;
    return { method: "GET", url, headers: { ...this.#o.commonHeaders, "content-length": "0" }, body: [], bodyLength: 0 };
  }

  /**
   * Reports that request `id` did not complete. All kinds but `auth` are transient: the whole request is resent.
   *
   * @throws UsageError for an id that is not the request in flight.
   */
  onError(id: number, failure: SingleRequestFailure, now: number): void {
    if (typeof failure !== "object" || failure === null || !failureKinds.has(failure.kind)) {
      throw new ValidationError("onError(failure)", 'expected { kind: "network" | "timeout" | "aborted" | "truncated" | "auth" }');
    }
    if (!this.#settle(id, "onError")) return;
    const what = describeRequest(this.#request);
    if (failure.kind === "auth") {
      // The auth library's reason is the message's point (a missing key file, no ADC): the shared wording carries it.
      const error = transportFailureError(this.#request, failure, { idleTimeoutMs: this.#o.retry.idleTimeoutMs, sessionUri: undefined });
      return this.#cancelRequested ? this.#finishCancelled(error.message) : this.#fail(error);
    }
    if (this.#phase === "looking") {
      this.#phase = "lookup";
      return this.#retry(now, new UploadError("transient", `${what}: the lookup did not complete (${failure.kind})`, { cause: failure.cause }), "lookup");
    }
    this.#uncertain = true;
    this.#retry(now, new UploadError("transient", `${what}: the request did not complete (${failure.kind}); the outcome is unknown, the whole request is resent`, { cause: failure.cause }));
  }

  #settle(id: number, call: string): boolean {
    if ((this.#phase === "in-flight" || this.#phase === "looking") && id === this.#id) return true;
    if (this.isFinished && id === this.#id) return false;
    throw new UsageError(`${call}(${String(id)}): expected the id of the request in flight (${this.#phase === "in-flight" ? this.#id : "there is none"})`);
  }

  #onCreated(response: TransportResponse, status: number, now: number): void {
    const what = describeRequest(this.#request);
    const object = objectOf(response);
    if (typeof object === "string") {
      // A success whose body cannot be read (cut short, garbled): the object was most likely created,
      // but nothing here proves it is these bytes. Look it up when its checksum can say; else resend
      // (safe: the same bytes again, or a 412 that leads to the lookup).
      this.#uncertain = true;
      const unreadable = new UploadError("protocol-violation", `${what}: came ${status} but its body is not an object resource (${object})`, { status });
      if (this.#crc32c !== undefined) {
        this.#refusal = unreadable;
        this.#phase = "lookup";
        return;
      }
      return this.#retry(now, new UploadError("transient", `${unreadable.message}; the outcome is unknown, the whole request is resent`, { status }));
    }
    if (object.bucket !== undefined && object.bucket !== this.#target.bucket) {
      return this.#fail(new UploadError("protocol-violation", `${what}: expected the object in bucket ${this.#target.bucket}, came one in ${String(object.bucket)}`, { status }));
    }
    if (object.name !== undefined && object.name !== this.#target.name) {
      return this.#fail(new UploadError("protocol-violation", `${what}: expected the object named ${this.#target.name}, came ${String(object.name)}`, { status }));
    }
    if (object.size !== String(this.#size)) {
      return this.#fail(new UploadError("protocol-violation", `${what}: expected an object of ${this.#size} bytes, came ${String(object.size)}`, { status }));
    }
    if (this.#crc32c !== undefined) {
      if (typeof object.crc32c !== "string" || !sameBase64(object.crc32c, decodeB64(this.#crc32c))) {
        return this.#fail(new UploadError("checksum-mismatch", `${what}: expected the object's CRC32C to be ${this.#crc32c}, came ${String(object.crc32c)}`, { status }));
      }
    }
    if (this.#md5 !== undefined) {
      if (typeof object.md5Hash !== "string" || !sameBase64(object.md5Hash, decodeB64(this.#md5))) {
        return this.#fail(new UploadError("checksum-mismatch", `${what}: expected the object's MD5 to be ${this.#md5}, came ${String(object.md5Hash)}`, { status }));
      }
    }
    this.#object = object;
    this.#committedBeforeCancel = this.#cancelRequested;
    this.#phase = "done";
    this.#events.push({ type: "progress", bytesSent: this.#size, bytesPersisted: this.#size });
  }

  #retry(now: number, error: UploadError, then: "ready" | "lookup" = "ready"): void {
    if (this.#cancelRequested) {
      // An attempt whose outcome is unknown: look for the object before saying "cancelled" (once; a
      // lookup that fails too ends it with the hedge, since nothing more can be learnt).
      if (then === "ready" && this.#uncertain && this.#crc32c !== undefined) {
        this.#refusal = new UploadError("cancelled", `the single-request upload was cancelled after a failed attempt (${error.message}), and no object of its bytes exists`);
        this.#phase = "lookup";
        return;
      }
      return this.#finishCancelled(`the single-request upload was cancelled after a failed attempt (${error.message}); an object exists only if that attempt reached GCS`);
    }
    const decision = this.#policy.onFailure(now);
    if ("giveUp" in decision) {
      const r = this.#o.retry;
      const message =
        decision.giveUp === "retries-exhausted"
          ? `gave up after ${decision.attempt} failed attempts in a row (maxAttempts ${r.maxAttempts})`
          : `the next retry (in ${decision.delayMs} ms) would begin after the ${r.deadlineMs} ms deadline`;
      return this.#fail(new UploadError(decision.giveUp, `${message}; last error: ${error.message}`, { cause: error, ...(error.status === undefined ? {} : { status: error.status }) }));
    }
    const attempt = decision.attempt;
    const delay = decision.delayMs;
    this.#retryAt = now + delay;
    this.#afterBackoff = then;
    this.#phase = "backoff";
    this.#events.push({ type: "retry", attempt, delayMs: delay, error });
  }

  #fail(error: UploadError): void {
    this.#phase = "failed";
    this.#error = error;
  }

  #finishCancelled(message: string): void {
    this.#phase = "cancelled";
    this.#error = new UploadError("cancelled", message);
  }

  /** POST …/upload/storage/v1/b/{bucket}/o?uploadType=multipart&name=…, body = metadata part + media part. */
  #buildRequest(body: readonly Uint8Array[]): TransportRequest {
    const target = this.#target;
    const resource = JSON.parse(decodeUtf8(startBody(target))) as Record<string, unknown>;
    if (this.#crc32c !== undefined) resource.crc32c = this.#crc32c;
    if (this.#md5 !== undefined) resource.md5Hash = this.#md5;
    const boundary = this.#boundaryFor(body);
    const contentType = target.metadata.contentType ?? "application/octet-stream";
    const head = encodeUtf8(`--${boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n${JSON.stringify(resource)}\r\n--${boundary}\r\nContent-Type: ${contentType}\r\n\r\n`);
    const tail = encodeUtf8(`\r\n--${boundary}--\r\n`);
    const views = [head, ...body.filter((v) => v.length > 0), tail];
    const length = head.length + this.#size + tail.length;
    const query = ["uploadType=multipart", `name=${encodeURIComponent(target.name)}`, ...target.query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`)].join("&");
    const headers: Record<string, string> = {
      ...this.#o.commonHeaders,
      "content-type": `multipart/related; boundary=${boundary}`,
      "content-length": String(length),
    };
    if (this.#o.origin !== undefined) headers.origin = this.#o.origin;
    return { method: "POST", url: `${target.endpoint}/upload/storage/v1/b/${encodeURIComponent(target.bucket)}/o?${query}`, headers, body: views, bodyLength: length };
  }

  /** A boundary that does not occur in the bytes (drawn from the injected random source until one fits). */
  #boundaryFor(body: readonly Uint8Array[]): string {
    for (;;) {
      let suffix = "";
      for (let i = 0; i < 4; i++) suffix += Math.floor(Math.min(Math.max(Number(this.#o.random()) || 0, 0), 0.999999) * 0x1000000).toString(16).padStart(6, "0");
      const boundary = `resumable_gcs_${suffix}`;
      if (!occursIn(body, encodeUtf8(`--${boundary}`))) return boundary;
    }
  }
}

function decodeB64(text: string): Uint8Array {
  // Our own encoding of a digest: always decodable.
  return decodeBase64(text)!;
}
