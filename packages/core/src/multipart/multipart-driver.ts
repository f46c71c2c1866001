/**
 * The async loop for the {@link MultipartMachine}: the same surface as core's `UploadDriver`
 * (`write` with backpressure, `end`, `cancel`, `abort`, `done`), with several requests in flight.
 *
 * Rules:
 * - Every `send` the machine hands out goes to the transport at once, each with its own abort
 *   signal and stall timer: `idleTimeoutMs` re-armed on upload progress, or, for a transport that
 *   cannot report progress, one deadline of `idleTimeoutMs + bodyLength / MIN_UPLOAD_THROUGHPUT`
 *   (the same rule as `UploadDriver`). Credentials go only where `credentialsFor` says (the
 *   upload layer's trust rules); a retry after a first 401 asks for fresh ones.
 * - After every input the driver polls until the machine answers something other than `send`; a
 *   `wait` becomes one clock timer, and pending writes resolve whenever `wantsData` is true
 *   (whatever the action: parts may be in flight while the machine wants the next one's bytes).
 * - A request the machine no longer waits for (abandoned by a failure, a cancel or an abort) is
 *   aborted; its late outcome is still reported and the machine ignores it.
 * - Every promise it hands out is marked handled. Once the upload is finished no timer is left.
 */
import { checkDriverServices } from "../driver-services.js";
import type { Clock } from "../clock.js";
import { UploadError, ValidationError } from "../errors.js";
import type { ObjectResource } from "../protocol.js";
import { InFlightRequest, type InFlightOutcome } from "../in-flight-request.js";
import { DEFAULT_MAX_RESPONSE_BYTES, type Transport, type TransportRequest } from "../transport.js";
import type { MultipartCheckpoint } from "./multipart-checkpoint.js";
import { MultipartMachine, type MultipartAction, type MultipartEvent, type MultipartPurpose, type MultipartSendAction } from "./multipart-machine.js";

/** What the driver runs on. */
export interface MultipartDriverOptions {
  /** The machine to drive (fresh, or restored from a checkpoint). */
  readonly machine: MultipartMachine;
  /** Performs the HTTP exchanges; several at once. */
  readonly transport: Transport;
  /** Time and timers. */
  readonly clock: Clock;
  /** Receives every machine event in order. If it throws, the upload is aborted with that error as the cause. */
  readonly onEvent?: (event: MultipartEvent) => void;
  /** Whether `request` may carry credentials: the upload layer's trust rules answer; by default nothing does. */
  readonly credentialsFor?: (request: TransportRequest, purpose: MultipartPurpose) => boolean;
  /** Passed to the transport as `maxResponseBytes`; default `DEFAULT_MAX_RESPONSE_BYTES`. */
  readonly maxResponseBytes?: number;
}

/** A request in flight, with what the machine sent it for. */
type Outstanding = InFlightRequest<MultipartPurpose>;

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

function rejected<T>(reason: unknown): Promise<T> {
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passed through untouched on purpose
  return handled(Promise.reject(reason));
}

/**
 * Runs a multipart upload: feed it with `write`/`end`, await `done`.
 *
 * @example
 * ```ts
 * const driver = new MultipartDriver({ machine: new MultipartMachine({ bucket, name, random, checksums, parallelism: 4 }), transport, clock });
 * for await (const bytes of source) await driver.write(bytes);
 * const object = await driver.end();
 * ```
 */
export class MultipartDriver {
  /** Resolves with the completed, verified object; rejects with the {@link UploadError} that ended the upload. */
  readonly done: Promise<ObjectResource>;
  /** The machine being driven (for getters such as `bytesPersisted`). */
  readonly machine: MultipartMachine;

  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #onEvent: ((event: MultipartEvent) => void) | undefined;
  readonly #credentialsFor: (request: TransportRequest, purpose: MultipartPurpose) => boolean;
  readonly #maxResponseBytes: number;
  #resolveDone!: (object: ObjectResource) => void;
  #rejectDone!: (error: UploadError) => void;
  readonly #outstanding = new Map<number, Outstanding>();
  #wait: { readonly until: number; readonly cancel: () => void } | undefined;
  #writers: Waiter[] = [];
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
  constructor(options: MultipartDriverOptions) {
    if (!(options?.machine instanceof MultipartMachine)) throw new ValidationError("machine", "expected a MultipartMachine");
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
   * Hands bytes to the upload (by reference: do not modify them until the upload is done).
   * Resolves when the machine wants more data; rejects with the upload's error, or a
   * {@link UsageError}/{@link ValidationError} for misuse.
   */
  write(bytes: Uint8Array): Promise<void> {
    const machine = this.machine;
    if (machine.isFinished && machine.error !== undefined) return rejected(machine.error);
    try {
      machine.write(bytes);
    } catch (error) {
      return rejected(error);
    }
    this.#pump();
    if (machine.isFinished) return machine.error === undefined ? Promise.resolve() : rejected(machine.error);
    if (machine.wantsData) return Promise.resolve();
    return handled(new Promise<void>((resolve, reject) => this.#writers.push({ resolve, reject })));
  }

  /** Ends the data; resolves with the completed object (the same promise as `done`). */
  end(): Promise<ObjectResource> {
    if (this.machine.isFinished) return this.done;
    try {
      this.machine.end();
    } catch (error) {
      return rejected(error);
    }
    this.#settleWriters(undefined);
    this.#pump();
    return this.done;
  }

  /**
   * Cancels: aborts the parts in flight, aborts the multipart upload, and resolves once finished
   * (normally `cancelled`; `done` if the complete request had already succeeded). Never rejects.
   */
  cancel(): Promise<void> {
    if (!this.machine.isFinished) this.machine.cancel();
    this.#pump();
    if (this.#finished) return Promise.resolve();
    return new Promise<void>((resolve) => this.#finishers.push(resolve));
  }

  /** Stops at once, keeping the multipart upload for a resume from `checkpoint()`; `done` rejects with code `aborted`. */
  abort(reason?: unknown): void {
    if (this.machine.isFinished) return;
    this.machine.abort(reason);
    this.#pump();
  }

  /** The machine's checkpoint (see {@link MultipartMachine.checkpoint}). */
  checkpoint(): MultipartCheckpoint | undefined {
    return this.machine.checkpoint();
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
    let action: MultipartAction = this.machine.poll(now);
    while (action.type === "send") {
      this.#startSend(action);
      action = this.machine.poll(now);
    }
    this.#drainEvents();
    this.#abortAbandoned();
    if (this.#again) return;
    switch (action.type) {
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
          this.#again = true;
        }
      }
    }
  }

  /** Aborts every request the machine stopped waiting for. */
  #abortAbandoned(): void {
    if (this.#outstanding.size === 0) return;
    const live = new Set(this.machine.outstandingIds);
    for (const outstanding of this.#outstanding.values()) {
      if (live.has(outstanding.id)) continue;
      outstanding.abort(this.machine.error ?? new UploadError("cancelled", "request aborted: the upload no longer needs it"));
    }
  }

  #startSend(action: MultipartSendAction): void {
    const services = { transport: this.#transport, clock: this.#clock, credentials: () => this.#credentialsFor(action.request, action.purpose), maxResponseBytes: this.#maxResponseBytes };
    this.#outstanding.set(action.id, new InFlightRequest(action, services, (outstanding, outcome) => this.#settled(outstanding, outcome)));
  }

  #settled(outstanding: Outstanding, outcome: InFlightOutcome): void {
    this.#outstanding.delete(outstanding.id);
    try {
      const now = this.#clock.now();
      if ("response" in outcome) this.machine.onResponse(outstanding.id, outcome.response, now);
      else this.machine.onError(outstanding.id, outcome.failure, now);
    } catch (error) {
      if (!this.machine.isFinished) this.machine.abort(error);
    }
    this.#pump();
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

  #finish(action: Extract<MultipartAction, { type: "done" | "failed" | "cancelled" }>): void {
    this.#finished = true;
    this.#clearWait();
    this.#abortAbandoned();
    for (const outstanding of this.#outstanding.values()) outstanding.stopStall();
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
