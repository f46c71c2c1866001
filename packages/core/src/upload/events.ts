/**
 * The upload's typed events. Every adapter hands these on (as Node events, as `on()` listeners),
 * so the names and payloads are defined once, here.
 */
import type { UploadError } from "../errors.js";
import type { UploadCheckpoint } from "./upload-checkpoint.js";

/** Progress as the upload goes. `bytesPersisted` never decreases. */
export interface UploadProgress {
  /** Highest stream offset handed to the transport. */
  readonly bytesSent: number;
  /** Bytes GCS has confirmed. */
  readonly bytesPersisted: number;
  /** The object's size once known (`totalSize`, or when the source ended). */
  readonly totalBytes?: number;
}

/** Payload of the `retry` event. */
export interface UploadRetry {
  /** Attempt number at this offset, from 1. */
  readonly attempt: number;
  /** How long the upload waits before asking GCS where it stands. */
  readonly delayMs: number;
  /** What went wrong. */
  readonly error: UploadError;
  /** The part retried alone, for a multipart upload (absent for its control requests and for a resumable session). */
  readonly partNumber?: number;
}

/** Every event an upload emits, by name, with its payload. */
export interface UploadEventMap {
  /**
   * A session exists (created, adopted or restored), or a multipart upload was initiated or
   * restored: its checkpoint, to resume after a crash. Never emitted for a small upload sent as one
   * request (`singleRequest: "auto"`, the source ended inside the first chunk): nothing to resume.
   */
  session: { readonly checkpoint: UploadCheckpoint };
  /** Bytes sent or persisted changed. */
  progress: UploadProgress;
  /** A request failed transiently; the upload waits `delayMs`, then asks where it stands. */
  retry: UploadRetry;
  /** The checkpoint store finished saving this checkpoint. */
  "checkpoint-saved": { readonly checkpoint: UploadCheckpoint };
  /**
   * A restored or adopted session answered its first status query (or a restored multipart upload
   * was listed: `partsKept`/`partsLost` then say how many checkpoint parts GCS still held or had
   * lost, and `serverOffset` equals `resumeOffset`).
   */
  resumed: {
    readonly resumeOffset: number;
    readonly serverOffset: number;
    readonly md5Skipped: boolean;
    readonly partsKept?: number;
    readonly partsLost?: number;
  };
}

/** An event name. */
export type UploadEventName = keyof UploadEventMap;

/** A listener for event `K`. */
export type UploadEventListener<K extends UploadEventName> = (payload: UploadEventMap[K]) => void;

/** The event names, for adapters that forward every one. */
export const uploadEventNames: readonly UploadEventName[] = ["session", "progress", "retry", "checkpoint-saved", "resumed"];

/**
 * A minimal typed emitter. Every listener runs; if any throws, `emit` rethrows the first error once
 * all have run (the upload then ends with it as the cause: a broken listener is a bug to surface,
 * not to swallow).
 */
export class UploadEvents {
  readonly #listeners = new Map<UploadEventName, Set<(payload: never) => void>>();

  /** Adds `listener` for `type`; returns the function that removes it. */
  on<K extends UploadEventName>(type: K, listener: UploadEventListener<K>): () => void {
    let set = this.#listeners.get(type);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(type, set);
    }
    const entry = listener as (payload: never) => void;
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  /** Calls every listener of `type` with `payload`, in the order they were added. */
  emit<K extends UploadEventName>(type: K, payload: UploadEventMap[K]): void {
    const set = this.#listeners.get(type);
    if (set === undefined) return;
    let failure: { readonly error: unknown } | undefined;
    for (const listener of [...set]) {
      try {
        (listener as UploadEventListener<K>)(payload);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  }
}
