/**
 * An in-memory stand-in for the upload layer's `Upload`, for testing the pump's pull discipline
 * without a network: it accepts writes while it holds fewer than `capacity` bytes, and the test
 * decides when the "engine" takes bytes away (`drain`), fails, or finishes.
 */
import { UploadError, type ObjectResource } from "@resumable-gcs/core";
import type { SinkAbortOutcome, UploadSink } from "../pump.js";

/** A controllable fake upload. */
export class FakeSink implements UploadSink {
  /** Every chunk written, in order. */
  readonly written: Uint8Array[] = [];
  /** Reasons `abort()` was called with. */
  readonly aborts: unknown[] = [];
  readonly done: Promise<ObjectResource>;
  ended = false;
  /** Bytes written and not yet drained. */
  held = 0;
  #waiters: (() => void)[] = [];
  #resolve!: (object: ObjectResource) => void;
  #reject!: (error: unknown) => void;
  #finished = false;
  readonly #capacity: number;
  readonly #onAbort: "cancel" | "keep";

  /**
   * @param capacity - bytes held before a write waits (0: every write waits for a drain).
   * @param onAbort - what `abort()` reports.
   * @param autoDrain - drain everything written on the next macrotask (a fast engine).
   */
  constructor(
    options: { capacity?: number; onAbort?: "cancel" | "keep"; autoDrain?: boolean } = {},
  ) {
    this.#capacity = options.capacity ?? 0;
    this.#onAbort = options.onAbort ?? "cancel";
    this.autoDrain = options.autoDrain ?? false;
    this.done = new Promise<ObjectResource>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.done.catch(() => undefined);
  }

  autoDrain: boolean;

  /** The bytes written so far, joined. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.written.reduce((sum, chunk) => sum + chunk.byteLength, 0));
    let at = 0;
    for (const chunk of this.written) {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    return out;
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#finished) return this.done.then(() => undefined);
    if (this.ended) return Promise.reject(new UploadError("usage", "write after end"));
    this.written.push(bytes);
    this.held += bytes.byteLength;
    if (this.autoDrain) setTimeout(() => this.drain(), 0);
    if (this.held <= this.#capacity) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push(resolve);
      this.done.catch(reject);
    });
  }

  /** The engine takes every held byte: pending writes resolve. */
  drain(): void {
    this.held = 0;
    const waiters = this.#waiters.splice(0);
    for (const resolve of waiters) resolve();
  }

  /** How many writes are waiting for a drain. */
  get waiting(): number {
    return this.#waiters.length;
  }

  end(): Promise<ObjectResource> {
    this.ended = true;
    if (!this.#finished) {
      this.#finished = true;
      const size = this.written.reduce((sum, chunk) => sum + chunk.byteLength, 0);
      this.#resolve({ bucket: "b", name: "o", size: String(size) });
    }
    return this.done;
  }

  /** Ends the upload with `error` (a network failure, a signal abort). */
  fail(error: unknown): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#reject(error);
  }

  abort(reason?: unknown): Promise<SinkAbortOutcome> {
    this.aborts.push(reason);
    if (!this.#finished) {
      this.#finished = true;
      this.#reject(new UploadError(this.#onAbort === "keep" ? "aborted" : "cancelled", "aborted by the caller", { cause: reason }));
    }
    return Promise.resolve(this.#onAbort === "keep" ? { outcome: "kept" } : { outcome: "cancelled" });
  }
}
