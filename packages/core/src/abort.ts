/**
 * A tiny AbortController for the driver. Core may not reach for the runtime's `AbortController`
 * global (it compiles against ES2022 alone), and it only needs the few members of
 * {@link AbortSignalLike}. A real `AbortSignal` and this one are interchangeable for a transport;
 * a transport whose HTTP client insists on a real one bridges it in three lines.
 */
import type { AbortSignalLike } from "./transport.js";

/** The signal half of {@link SimpleAbortController}. */
export class SimpleAbortSignal implements AbortSignalLike {
  #aborted = false;
  #reason: unknown = undefined;
  readonly #listeners = new Set<() => void>();

  /** True once aborted. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** The reason given to `abort`, once aborted. */
  get reason(): unknown {
    return this.#reason;
  }

  /** Registers `listener` to run once on abort (not at all if already aborted, as with AbortSignal). */
  addEventListener(_type: "abort", listener: () => void, _options?: { once?: boolean }): void {
    if (!this.#aborted) this.#listeners.add(listener);
  }

  /** Removes a listener. */
  removeEventListener(_type: "abort", listener: () => void): void {
    this.#listeners.delete(listener);
  }

  /** @internal Called by the controller. */
  fire(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    const listeners = [...this.#listeners];
    this.#listeners.clear();
    for (const listener of listeners) {
      try {
        listener();
      } catch {
        // A transport's listener failing must not stop the others or the driver's own bookkeeping;
        // the transport still owes its promise a rejection.
      }
    }
  }
}

/** Creates an {@link AbortSignalLike} and aborts it on demand; every listener runs once. */
export class SimpleAbortController {
  /** The signal handed to the transport. */
  readonly signal = new SimpleAbortSignal();

  /** Aborts the signal (once; later calls are ignored). */
  abort(reason?: unknown): void {
    this.signal.fire(reason);
  }
}
