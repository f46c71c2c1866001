/**
 * One request handed to the transport, as every driver of this package keeps it while it is out:
 * its abort signal, its stall timer and how its failure is classified. One home for the rules the
 * resumable, multipart and single-request drivers share.
 *
 * Rules:
 * - The stall window is `idleTimeoutMs`, re-armed on every upload-progress report, for a transport
 *   that reports progress; for one that cannot, one deadline of
 *   `idleTimeoutMs + bodyLength / MIN_UPLOAD_THROUGHPUT` for the whole exchange. A stall aborts the
 *   request, and its failure is `timeout`.
 * - Credentials go only when the driver says so (the upload layer's trust rules); a request the
 *   machine marked `refreshCredentials` asks the transport for fresh ones.
 * - A failure is `timeout` after a stall, `aborted` after {@link InFlightRequest.abort}, else the
 *   `TransportError`'s kind; anything else a transport rejects with counts as the connection failing.
 * - The outcome is reported once, asynchronously, with the stall timer already stopped.
 */
import { SimpleAbortController } from "./abort.js";
import type { Clock } from "./clock.js";
import { UploadError } from "./errors.js";
import { TransportError, type Transport, type TransportErrorKind, type TransportRequest, type TransportResponse } from "./transport.js";

/**
 * The slowest upload throughput a driver waits for when a transport cannot report upload
 * progress: 64 KiB/s (65536 bytes per second). A request's stall deadline is then
 * `idleTimeoutMs + bodyLength / MIN_UPLOAD_THROUGHPUT` seconds' worth of ms: an 8 MiB chunk gets
 * 128 s on top of the idle timeout. Slower links should use a smaller `chunkSize`.
 */
export const MIN_UPLOAD_THROUGHPUT = 64 * 1024;

/** How a request ended: a complete response, or a classified failure. */
export type InFlightOutcome = { readonly response: TransportResponse } | { readonly failure: { readonly kind: TransportErrorKind; readonly cause: unknown } };

/** What a machine's send action says about the request. */
export interface InFlightAction<P> {
  readonly id: number;
  readonly purpose: P;
  readonly request: TransportRequest;
  readonly idleTimeoutMs: number;
  readonly refreshCredentials?: boolean;
}

/** What the driver gives the request. */
export interface InFlightServices {
  readonly transport: Transport;
  readonly clock: Clock;
  /** Whether this request carries credentials (asked when it is sent; a throw fails it as the connection failing). */
  readonly credentials: () => boolean;
  readonly maxResponseBytes: number;
}

/** A request in flight; see the module header. */
export class InFlightRequest<P = undefined> {
  /** The machine's id for the request. */
  readonly id: number;
  /** What the request is for, as the machine named it. */
  readonly purpose: P;
  /** The stall window in ms (see the module header). */
  readonly stallMs: number;
  readonly #clock: Clock;
  readonly #controller = new SimpleAbortController();
  #stopStall: (() => void) | undefined;
  #timedOut = false;
  #abortedByCaller = false;
  #settled = false;

  /** Sends `action.request` at once; `onSettled` gets its outcome once, on a later microtask. */
  constructor(action: InFlightAction<P>, services: InFlightServices, onSettled: (request: InFlightRequest<P>, outcome: InFlightOutcome) => void) {
    this.id = action.id;
    this.purpose = action.purpose;
    this.#clock = services.clock;
    const progressReported = services.transport.capabilities.uploadProgress;
    this.stallMs = progressReported ? action.idleTimeoutMs : action.idleTimeoutMs + Math.ceil((action.request.bodyLength * 1000) / MIN_UPLOAD_THROUGHPUT);
    this.#armStall();
    let sent: Promise<TransportResponse>;
    try {
      const credentials = services.credentials() === true;
      sent = Promise.resolve(
        services.transport.send(action.request, {
          signal: this.#controller.signal,
          credentials,
          // Set by the machine on the one retry after a first 401.
          ...(credentials && action.refreshCredentials === true ? { refreshCredentials: true } : {}),
          maxResponseBytes: services.maxResponseBytes,
          ...(progressReported
            ? {
                onUploadProgress: () => {
                  if (!this.#settled && !this.#timedOut && !this.#abortedByCaller) this.#armStall();
                },
              }
            : {}),
        }),
      );
    } catch (error) {
      // Whatever the transport threw is passed on as is (classified as the connection failing).
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passed through untouched on purpose
      sent = Promise.reject(error);
    }
    sent.then(
      (response) => this.#settle(onSettled, { response }),
      (error: unknown) => this.#settle(onSettled, { failure: { kind: this.#kindOf(error), cause: error } }),
    );
  }

  /** True once the driver aborted the request (its outcome is then `aborted`). */
  get abortedByCaller(): boolean {
    return this.#abortedByCaller;
  }

  /** Aborts the request with `reason`; its failure is reported as `aborted`. No-op once aborted or settled. */
  abort(reason: unknown): void {
    if (this.#abortedByCaller || this.#settled) return;
    this.#abortedByCaller = true;
    this.stopStall();
    this.#controller.abort(reason);
  }

  /** Stops the stall timer, leaving the request to run (the upload is finished and needs no timers). */
  stopStall(): void {
    this.#stopStall?.();
    this.#stopStall = undefined;
  }

  #armStall(): void {
    this.stopStall();
    this.#stopStall = this.#clock.setTimer(() => {
      this.#stopStall = undefined;
      if (this.#settled) return;
      this.#timedOut = true;
      this.#controller.abort(new UploadError("transient", `request stalled: no progress for ${this.stallMs} ms`));
    }, this.stallMs);
  }

  #settle(onSettled: (request: InFlightRequest<P>, outcome: InFlightOutcome) => void, outcome: InFlightOutcome): void {
    this.stopStall();
    this.#settled = true;
    onSettled(this, outcome);
  }

  #kindOf(error: unknown): TransportErrorKind {
    if (this.#timedOut) return "timeout";
    if (this.#abortedByCaller) return "aborted";
    // The contract: a transport rejects with a TransportError saying what happened. Anything else
    // (a bug, a non-conforming transport) is treated as the connection failing.
    return error instanceof TransportError ? error.kind : "network";
  }
}
