/**
 * The one async loop every adapter shares (Node Writable, web WritableStream, async iterable).
 *
 * It runs an {@link UploadMachine} with an injected {@link Transport} and {@link Clock}: poll → act →
 * report → poll. It does no I/O and reads no time of its own, so core stays pure; what each runtime
 * differs in (HTTP client, timers, checksums) arrives through those interfaces.
 *
 * Rules:
 * - `send` actions go to the transport with a fresh abort signal and a stall timer. A transport that
 *   reports upload progress gets the action's `idleTimeoutMs`, re-armed on every progress callback;
 *   one that cannot (`capabilities.uploadProgress === false`) gets one deadline of
 *   `idleTimeoutMs + bodyLength / MIN_UPLOAD_THROUGHPUT`, so a slow uplink does not time out every
 *   chunk. Either way the timer runs until the whole response has arrived, so a server that trickles
 *   its answer is abandoned too. On expiry the request is aborted and reported as a `timeout`.
 * - Whether a request carries credentials is not the driver's call: `credentialsFor` (the upload
 *   layer's trust rules) decides per request; by default nothing carries credentials.
 * - A transport rejection is classified by `instanceof TransportError` and its `kind`; anything else
 *   a transport throws counts as `network`.
 * - `wait` actions become one clock timer; `need-data` resolves pending writes.
 * - Events are drained after every input and handed to `onEvent` in order.
 * - Every promise it hands out is marked handled: ignoring one never produces an unhandled
 *   rejection. Once the upload is finished no timer is left behind.
 */
import { checkDriverServices } from "./driver-services.js";
import type { Checkpoint } from "./checkpoint.js";
import type { Clock } from "./clock.js";
import { UploadError, ValidationError } from "./errors.js";
import { InFlightRequest, type InFlightOutcome } from "./in-flight-request.js";
import { UploadMachine, type RequestPurpose, type SendAction, type UploadAction, type UploadEvent } from "./machine.js";
import type { ObjectResource } from "./protocol.js";
import { DEFAULT_MAX_RESPONSE_BYTES, type Transport, type TransportRequest } from "./transport.js";

export { MIN_UPLOAD_THROUGHPUT } from "./in-flight-request.js";

/** What the driver runs on. */
export interface UploadDriverOptions {
  /** The machine to drive (fresh, or restored from a checkpoint). */
  readonly machine: UploadMachine;
  /** Performs the HTTP exchanges. */
  readonly transport: Transport;
  /** Time and timers. */
  readonly clock: Clock;
  /**
   * Receives every machine event in order (`session`: save the checkpoint; `progress`; `retry`; …).
   * If it throws, the upload is aborted with that error as the cause.
   */
  readonly onEvent?: (event: UploadEvent) => void;
  /**
   * Whether `request` may carry credentials (`credentials` in the send options). The upload layer's
   * trust rules answer this; the default sends credentials nowhere.
   */
  readonly credentialsFor?: (request: TransportRequest, purpose: RequestPurpose) => boolean;
  /** Passed to the transport as `maxResponseBytes`; default {@link DEFAULT_MAX_RESPONSE_BYTES}. */
  readonly maxResponseBytes?: number;
}

/** The request in flight, with what the machine sent it for. */
type Outstanding = InFlightRequest<RequestPurpose>;

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A rejected promise for something caught. Whatever was thrown is passed on as is: core's own
 * throws are always UploadErrors, and a transport's are kept unchanged as the `cause`.
 */
function rejected<T>(reason: unknown): Promise<T> {
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passed through untouched on purpose
  return Promise.reject(reason);
}

/** Marks a promise handled (the caller still sees its rejection when it awaits it) and returns it. */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/**
 * Runs an upload: feed it with `write`/`end`, await `done`.
 *
 * @example
 * ```ts
 * const driver = new UploadDriver({ machine: new UploadMachine(options), transport, clock, onEvent });
 * for await (const bytes of source) await driver.write(bytes); // resolves when the machine wants more
 * const object = await driver.end();
 * ```
 */
export class UploadDriver {
  /** Resolves with the final object; rejects with the {@link UploadError} that ended the upload. */
  readonly done: Promise<ObjectResource>;
  /** The machine being driven (for getters such as `bytesPersisted`). */
  readonly machine: UploadMachine;

  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #onEvent: ((event: UploadEvent) => void) | undefined;
  readonly #credentialsFor: (request: TransportRequest, purpose: RequestPurpose) => boolean;
  readonly #maxResponseBytes: number;
  #resolveDone!: (object: ObjectResource) => void;
  #rejectDone!: (error: UploadError) => void;
  #outstanding: Outstanding | undefined;
  #wait: { readonly until: number; readonly cancel: () => void } | undefined;
  #writers: Waiter[] = [];
  #finishers: (() => void)[] = [];
  #finished = false;
  #pumping = false;
  #again = false;

  /**
   * The loop starts on the next microtask, so listeners attached right after construction see every
   * event, including the first `session`.
   *
   * @throws ValidationError when an option is missing or of the wrong shape.
   */
  constructor(options: UploadDriverOptions) {
    if (!(options?.machine instanceof UploadMachine)) throw new ValidationError("machine", "expected an UploadMachine");
    checkDriverServices(options);
    this.machine = options.machine;
    this.#transport = options.transport;
    this.#clock = options.clock;
    this.#onEvent = options.onEvent;
    this.#credentialsFor = options.credentialsFor ?? (() => false);
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.done = handled(
      new Promise<ObjectResource>((resolve, reject) => {
        this.#resolveDone = resolve;
        this.#rejectDone = reject;
      }),
    );
    void Promise.resolve().then(() => this.#pump());
  }

  /**
   * Hands bytes to the upload (by reference: do not modify them until the upload is done). Resolves
   * when the machine wants more data (backpressure); rejects with the upload's error if it failed,
   * or with a {@link UsageError}/{@link ValidationError} for misuse.
   */
  write(bytes: Uint8Array): Promise<void> {
    const machine = this.machine;
    if (machine.isFinished && machine.state !== "done" && machine.error !== undefined) return handled(Promise.reject(machine.error));
    try {
      machine.write(bytes);
    } catch (error) {
      return handled(rejected(error));
    }
    this.#pump();
    if (machine.isFinished) {
      return machine.error === undefined ? Promise.resolve() : handled(Promise.reject(machine.error));
    }
    if (machine.wantsData) return Promise.resolve();
    return handled(new Promise<void>((resolve, reject) => this.#writers.push({ resolve, reject })));
  }

  /** Ends the data; resolves with the final object (the same promise as `done`). */
  end(): Promise<ObjectResource> {
    if (this.machine.isFinished) return this.done;
    try {
      this.machine.end();
    } catch (error) {
      return handled(rejected(error));
    }
    // No more writes are possible: backpressure is moot.
    this.#settleWriters(undefined);
    this.#pump();
    return this.done;
  }

  /**
   * Cancels: aborts the chunk or query in flight, deletes the session, and resolves once the upload
   * is finished (normally `cancelled`; `done` if the object was already final). Never rejects.
   * A session start in flight is let finish (still under its stall timer): aborting it could leave
   * a session GCS had already created alive for a week; once its answer names the session, that
   * session is deleted.
   */
  cancel(): Promise<void> {
    if (!this.machine.isFinished) {
      this.machine.cancel();
      const outstanding = this.#outstanding;
      if (outstanding !== undefined && outstanding.purpose !== "cancel" && outstanding.purpose !== "start") {
        outstanding.abort(new UploadError("cancelled", "request aborted: the upload is being cancelled"));
      }
    }
    this.#pump();
    if (this.#finished) return Promise.resolve();
    return new Promise<void>((resolve) => this.#finishers.push(resolve));
  }

  /**
   * Stops at once without deleting the session (resume later from `checkpoint()`): aborts the
   * request in flight; `done` and pending writes reject with code `aborted`.
   */
  abort(reason?: unknown): void {
    if (this.machine.isFinished) return;
    this.machine.abort(reason);
    const outstanding = this.#outstanding;
    // A finalizing request the machine lets settle (its answer says whether the object exists) goes on.
    if (this.machine.isFinished) outstanding?.abort(this.machine.error);
    this.#pump();
  }

  /** The machine's checkpoint (see {@link UploadMachine.checkpoint}). */
  checkpoint(): Checkpoint | undefined {
    return this.machine.checkpoint();
  }

  // ---------------------------------------------------------------------------------------------

  /** Runs poll → act until the machine waits on something outside; re-entrant calls coalesce. */
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
      // Only a bug (ours, or an injected clock's) lands here: fail the upload loudly rather than
      // leave the caller waiting forever. A finished machine's action needs no clock.
      if (!this.machine.isFinished) this.machine.abort(error);
      const action = this.machine.poll(0);
      if (!this.#finished && (action.type === "done" || action.type === "failed" || action.type === "cancelled")) this.#finish(action);
    } finally {
      this.#pumping = false;
    }
  }

  #step(): void {
    if (this.#finished) return;
    const now = this.#clock.now();
    const action = this.machine.poll(now);
    this.#drainEvents();
    if (this.#again) return; // an event handler aborted the upload: poll again
    switch (action.type) {
      case "send":
        this.#clearWait();
        this.#startSend(action);
        break;
      case "wait":
        if (this.#wait?.until !== action.until) {
          this.#clearWait();
          const cancel = this.#clock.setTimer(() => {
            this.#wait = undefined;
            this.#pump();
          }, Math.max(0, action.until - now));
          this.#wait = { until: action.until, cancel };
        }
        break;
      case "need-data":
      case "in-flight":
        this.#clearWait();
        break;
      case "done":
      case "failed":
      case "cancelled":
        this.#finish(action);
        return;
    }
    if (this.machine.wantsData) this.#settleWriters(undefined);
  }

  #drainEvents(): void {
    for (let event = this.machine.pollEvent(); event !== undefined; event = this.machine.pollEvent()) {
      if (this.#onEvent === undefined) continue;
      try {
        this.#onEvent(event);
      } catch (error) {
        if (!this.machine.isFinished) {
          this.machine.abort(error);
          this.#abortOutstanding(this.machine.error);
          this.#again = true;
        }
      }
    }
  }

  #startSend(action: SendAction): void {
    const services = { transport: this.#transport, clock: this.#clock, credentials: () => this.#credentialsFor(action.request, action.purpose), maxResponseBytes: this.#maxResponseBytes };
    this.#outstanding = new InFlightRequest(action, services, (outstanding, outcome) => this.#settled(outstanding, outcome));
  }

  #settled(outstanding: Outstanding, outcome: InFlightOutcome): void {
    if (this.#outstanding === outstanding) this.#outstanding = undefined;
    try {
      const now = this.#clock.now();
      if ("response" in outcome) this.machine.onResponse(outstanding.id, outcome.response, now);
      else this.machine.onError(outstanding.id, outcome.failure, now);
    } catch (error) {
      // A malformed response from the transport (or a bug): end the upload with it as the cause.
      if (!this.machine.isFinished) this.machine.abort(error);
    }
    this.#pump();
  }

  #abortOutstanding(reason: unknown): void {
    this.#outstanding?.abort(reason);
  }


  #clearWait(): void {
    if (this.#wait !== undefined) {
      this.#wait.cancel();
      this.#wait = undefined;
    }
  }

  #settleWriters(error: unknown): void {
    if (this.#writers.length === 0) return;
    const writers = this.#writers;
    this.#writers = [];
    for (const writer of writers) {
      if (error === undefined) writer.resolve();
      else writer.reject(error);
    }
  }

  #finish(action: Extract<UploadAction, { type: "done" | "failed" | "cancelled" }>): void {
    this.#finished = true;
    this.#clearWait();
    // A request the machine abandoned (abort, failure while in flight) is told to stop; its late
    // outcome is still reported to the machine, which ignores it.
    this.#abortOutstanding(this.machine.error);
    if (action.type === "done") {
      this.#settleWriters(undefined);
      this.#resolveDone(action.object);
    } else {
      const error = action.type === "failed" ? action.error : this.machine.error!;
      this.#settleWriters(error);
      this.#rejectDone(error);
    }
    const finishers = this.#finishers;
    this.#finishers = [];
    for (const finish of finishers) finish();
  }
}
