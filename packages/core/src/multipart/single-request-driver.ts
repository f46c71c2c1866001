/**
 * The async loop for a {@link SingleRequestUpload}: one request at a time, a stall timer, an abort
 * signal, credentials where the upload layer's trust rules say, the backoff as one clock timer.
 *
 * Rules:
 * - The request goes to the transport with a fresh abort signal and a stall timer: `idleTimeoutMs`
 *   re-armed on upload progress, or, for a transport that cannot report progress, one deadline of
 *   `idleTimeoutMs + bodyLength / MIN_UPLOAD_THROUGHPUT` (the rule of `UploadDriver`). On expiry the
 *   request is aborted and reported as a `timeout`: the engine resends the whole request.
 * - `cancel()` lets a request in flight settle (the engine's rule: its answer says whether the
 *   object exists); `abort()` aborts it at once and its late outcome is ignored.
 * - Events are drained after every input and handed to `onEvent`; if it throws, the upload is
 *   aborted with that error as the cause. Every promise handed out is marked handled; once the
 *   upload is finished no timer is left.
 */
import { checkDriverServices } from "../driver-services.js";
import type { Clock } from "../clock.js";
import { InFlightRequest, type InFlightOutcome } from "../in-flight-request.js";
import { UploadError, ValidationError } from "../errors.js";
import type { ObjectResource } from "../protocol.js";
import { DEFAULT_MAX_RESPONSE_BYTES, type Transport, type TransportRequest } from "../transport.js";
import { SingleRequestUpload, type SingleRequestAction, type SingleRequestEvent, type SingleRequestSendAction } from "./single-request.js";

/** What the driver runs on. */
export interface SingleRequestDriverOptions {
  /** The engine to drive, holding the whole body. */
  readonly upload: SingleRequestUpload;
  /** Performs the HTTP exchanges. */
  readonly transport: Transport;
  /** Time and timers. */
  readonly clock: Clock;
  /** Receives every engine event in order. If it throws, the upload is aborted with that error as the cause. */
  readonly onEvent?: (event: SingleRequestEvent) => void;
  /** Whether `request` may carry credentials: the upload layer's trust rules answer; by default nothing does. */
  readonly credentialsFor?: (request: TransportRequest) => boolean;
  /** Passed to the transport as `maxResponseBytes`; default `DEFAULT_MAX_RESPONSE_BYTES`. */
  readonly maxResponseBytes?: number;
}

/** The one request in flight. */
type InFlight = InFlightRequest;

/**
 * Runs a single-request upload to its end; `done` says how it ended.
 *
 * @example
 * ```ts
 * const driver = new SingleRequestDriver({ upload: new SingleRequestUpload(options, [bytes]), transport, clock });
 * const object = await driver.done;
 * ```
 */
export class SingleRequestDriver {
  /** Resolves with the created, verified object; rejects with the {@link UploadError} that ended the upload. */
  readonly done: Promise<ObjectResource>;
  /** The engine being driven. */
  readonly upload: SingleRequestUpload;

  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #onEvent: ((event: SingleRequestEvent) => void) | undefined;
  readonly #credentialsFor: (request: TransportRequest) => boolean;
  readonly #maxResponseBytes: number;
  #resolveDone!: (object: ObjectResource) => void;
  #rejectDone!: (error: UploadError) => void;
  #inFlight: InFlight | undefined;
  #wait: { readonly until: number; readonly cancel: () => void } | undefined;
  #finishers: (() => void)[] = [];
  #finished = false;
  #pumping = false;
  #again = false;

  /**
   * The loop starts on the next microtask, so listeners attached right after construction see
   * every event.
   *
   * @throws ValidationError when an option is missing or of the wrong shape.
   */
  constructor(options: SingleRequestDriverOptions) {
    if (!(options?.upload instanceof SingleRequestUpload)) throw new ValidationError("upload", "expected a SingleRequestUpload");
    checkDriverServices(options);
    this.upload = options.upload;
    this.#transport = options.transport;
    this.#clock = options.clock;
    this.#onEvent = options.onEvent;
    this.#credentialsFor = options.credentialsFor ?? (() => false);
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.done = new Promise<ObjectResource>((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    this.done.catch(() => undefined);
    void Promise.resolve().then(() => this.#pump());
  }

  /** Cancels (a request in flight is let settle) and resolves once finished. Never rejects. */
  cancel(): Promise<void> {
    this.upload.cancel();
    this.#pump();
    if (this.#finished) return Promise.resolve();
    return new Promise<void>((resolve) => this.#finishers.push(resolve));
  }

  /** Stops at once: the request in flight is aborted; `done` rejects with code `aborted`. */
  abort(reason?: unknown): void {
    if (this.upload.isFinished) return;
    this.upload.abort(reason);
    this.#pump();
  }

  // ---------------------------------------------------------------------------------------------

  #pump(): void {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        this.#step();
      } while (this.#again);
    } catch (error) {
      // Only a bug lands here: fail loudly rather than leave the caller waiting forever.
      this.upload.abort(error);
      const action = this.upload.poll(this.#clock.now());
      if (!this.#finished && (action.type === "failed" || action.type === "done" || action.type === "cancelled")) this.#finish(action);
    } finally {
      this.#pumping = false;
    }
  }

  #step(): void {
    if (this.#finished) return;
    const now = this.#clock.now();
    const action = this.upload.poll(now);
    if (action.type === "send") this.#send(action);
    this.#drainEvents();
    if (this.#again) return;
    // The engine stopped waiting for the request in flight (abort): abandon it.
    const live = this.upload.outstandingId;
    if (this.#inFlight !== undefined && live !== this.#inFlight.id) {
      this.#inFlight.abort(this.upload.error ?? new UploadError("aborted", "request aborted: the upload no longer needs it"));
    }
    switch (action.type) {
      case "send":
        this.#again = true; // poll once more: `in-flight` now
        return;
      case "wait":
        if (this.#wait?.until !== action.until) {
          this.#clearWait();
          const cancel = this.#clock.setTimer(() => {
            this.#wait = undefined;
            this.#pump();
          }, Math.max(0, action.until - now));
          this.#wait = { until: action.until, cancel };
        }
        return;
      case "in-flight":
        return;
      case "done":
      case "failed":
      case "cancelled":
        this.#finish(action);
        return;
    }
  }

  #drainEvents(): void {
    for (let event = this.upload.pollEvent(); event !== undefined; event = this.upload.pollEvent()) {
      if (this.#onEvent === undefined) continue;
      try {
        this.#onEvent(event);
      } catch (error) {
        if (!this.upload.isFinished) {
          this.upload.abort(error);
          this.#again = true;
        }
      }
    }
  }

  #send(action: SingleRequestSendAction): void {
    this.#clearWait();
    const services = { transport: this.#transport, clock: this.#clock, credentials: () => this.#credentialsFor(action.request), maxResponseBytes: this.#maxResponseBytes };
    this.#inFlight = new InFlightRequest({ ...action, purpose: undefined }, services, (inFlight, outcome) => this.#settled(inFlight, outcome));
  }

  #settled(inFlight: InFlight, outcome: InFlightOutcome): void {
    if (this.#inFlight === inFlight) this.#inFlight = undefined;
    if (!inFlight.abortedByCaller || this.upload.outstandingId === inFlight.id) {
      const now = this.#clock.now();
      try {
        if ("response" in outcome) this.upload.onResponse(inFlight.id, outcome.response, now);
        else this.upload.onError(inFlight.id, outcome.failure, now);
      } catch (error) {
        this.upload.abort(error);
      }
    }
    this.#pump();
  }

  #clearWait(): void {
    if (this.#wait !== undefined) {
      this.#wait.cancel();
      this.#wait = undefined;
    }
  }

  #finish(action: Extract<SingleRequestAction, { type: "done" | "failed" | "cancelled" }>): void {
    this.#finished = true;
    this.#clearWait();
    this.#inFlight?.stopStall();
    if (action.type === "done") this.#resolveDone(action.object);
    else this.#rejectDone(action.type === "failed" ? action.error : this.upload.error!);
    const finishers = this.#finishers;
    this.#finishers = [];
    for (const finish of finishers) finish();
  }
}
