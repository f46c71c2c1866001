/**
 * Where checkpoints live between processes, and the saver that keeps one up to date.
 *
 * Rules:
 * - Nothing is written anywhere unless the caller hands the upload a store.
 * - Saves are serialised and coalesced: at most one runs at a time, and when it ends only the
 *   newest checkpoint that arrived meanwhile is written. A slow disk therefore costs at most one
 *   save behind, never a queue.
 * - A save that fails ends the upload: the caller asked for resumability, and silently losing it
 *   would be worse than stopping.
 */
import type { UploadCheckpoint } from "./upload-checkpoint.js";

/** A place for one checkpoint (a file, IndexedDB, localStorage, a database row). */
export interface CheckpointStore {
  /** The saved checkpoint (parsed JSON, validated later by core), or `undefined` when there is none. */
  load(): Promise<unknown>;
  /** Replaces the saved checkpoint, atomically: a crash leaves the old one or the new one, never half. */
  save(checkpoint: UploadCheckpoint): Promise<void>;
  /** Forgets the checkpoint (after the object is final, or the session cancelled). */
  clear(): Promise<void>;
}

/** True when `value` has the three methods of a {@link CheckpointStore}. */
export function isCheckpointStore(value: unknown): value is CheckpointStore {
  if (typeof value !== "object" || value === null) return false;
  const store = value as Record<string, unknown>;
  return typeof store.load === "function" && typeof store.save === "function" && typeof store.clear === "function";
}

/** A store in memory, for tests and for callers who persist checkpoints their own way. */
export class MemoryCheckpointStore implements CheckpointStore {
  #value: string | undefined;

  /** The saved checkpoint, as a fresh object (a JSON round trip, as a file store would give back). */
  load(): Promise<unknown> {
    return Promise.resolve(this.#value === undefined ? undefined : (JSON.parse(this.#value) as unknown));
  }

  /** Replaces the saved checkpoint. */
  save(checkpoint: UploadCheckpoint): Promise<void> {
    this.#value = JSON.stringify(checkpoint);
    return Promise.resolve();
  }

  /** Forgets the checkpoint. */
  clear(): Promise<void> {
    this.#value = undefined;
    return Promise.resolve();
  }
}

/**
 * Keeps a store up to date with the newest checkpoint (see the module rules). `onSaved` runs after
 * each completed save; `onError` once, for the first failed save (later saves are not attempted).
 */
export class CheckpointSaver {
  readonly #store: CheckpointStore;
  readonly #onSaved: (checkpoint: UploadCheckpoint) => void;
  readonly #onError: (error: unknown) => void;
  #chain: Promise<void> = Promise.resolve();
  #pending: UploadCheckpoint | undefined;
  #lastKey: string | undefined;
  #failed = false;

  /**
   * @param store - where to save.
   * @param onSaved - told about each checkpoint once it is saved.
   * @param onError - told about the first failed save.
   */
  constructor(store: CheckpointStore, onSaved: (checkpoint: UploadCheckpoint) => void, onError: (error: unknown) => void) {
    this.#store = store;
    this.#onSaved = onSaved;
    this.#onError = onError;
  }

  /** Queues `checkpoint` unless it equals the last one queued; coalesces with a save not yet started. */
  queue(checkpoint: UploadCheckpoint): void {
    if (this.#failed) return;
    const key = JSON.stringify(checkpoint);
    if (key === this.#lastKey) return;
    this.#lastKey = key;
    const alreadyQueued = this.#pending !== undefined;
    this.#pending = checkpoint;
    if (alreadyQueued) return;
    this.#chain = this.#chain.then(async () => {
      const next = this.#pending;
      this.#pending = undefined;
      if (next === undefined || this.#failed) return;
      try {
        await this.#store.save(next);
      } catch (error) {
        this.#failed = true;
        this.#onError(error);
        return;
      }
      this.#onSaved(next);
    });
  }

  /** Resolves once every queued save has finished (successfully or not). Never rejects. */
  flush(): Promise<void> {
    return this.#chain;
  }

  /** Waits for queued saves, then clears the store; no further saves happen. Rejects if `clear` does. */
  async clear(): Promise<void> {
    await this.#chain;
    this.#failed = true;
    await this.#store.clear();
  }
}
