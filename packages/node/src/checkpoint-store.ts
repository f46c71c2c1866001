import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, resolve } from "node:path";

/**
 * Where checkpoints live between processes. The adapter saves one when a session is created and as the
 * persisted offset advances; it never writes anywhere unless the caller hands it a store.
 */
export interface CheckpointStore {
  /** The saved checkpoint (parsed JSON, validated later by core), or `undefined` when there is none. */
  load(): Promise<unknown>;
  /** Replaces the saved checkpoint, atomically: a crash leaves the old one or the new one, never half. */
  save(checkpoint: unknown): Promise<void>;
  /** Forgets the checkpoint (after the object is final, or the session cancelled). */
  clear(): Promise<void>;
}

/** Thrown when the file exists but does not hold JSON. */
export class CheckpointFileError extends Error {
  /** Matches core's error code for a checkpoint that cannot be used. */
  readonly code = "invalid-checkpoint" as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CheckpointFileError";
  }
}

/**
 * A checkpoint kept in one JSON file. Saving writes a sibling temp file, fsyncs it and renames it over
 * the target, so a SIGKILL at any instant leaves a whole checkpoint. The file is created with mode 0600:
 * it holds a session URI, which is a bearer capability for the upload.
 *
 * @example
 * ```ts
 * const store = new FileCheckpointStore("./backup.upload.json");
 * ```
 */
export class FileCheckpointStore implements CheckpointStore {
  /** Absolute path of the checkpoint file. */
  readonly path: string;
  #sequence = 0;

  constructor(path: string) {
    this.path = resolve(path);
  }

  async load(): Promise<unknown> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new CheckpointFileError(`checkpoint file ${this.path} is not valid JSON`, { cause: error });
    }
  }

  async save(checkpoint: unknown): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    this.#sequence += 1;
    const temp = `${this.path}.${process.pid}.${this.#sequence}.tmp`;
    const handle = await open(temp, "w", 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(checkpoint)}\n`, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temp, this.path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async clear(): Promise<void> {
    await rm(this.path, { force: true });
  }
}

/** A store in memory, for tests and for callers who persist checkpoints their own way. */
export class MemoryCheckpointStore implements CheckpointStore {
  #value: string | undefined;

  load(): Promise<unknown> {
    return Promise.resolve(this.#value === undefined ? undefined : (JSON.parse(this.#value) as unknown));
  }

  save(checkpoint: unknown): Promise<void> {
    // A JSON round trip, so a test sees exactly what a file store would give back.
    this.#value = JSON.stringify(checkpoint);
    return Promise.resolve();
  }

  clear(): Promise<void> {
    this.#value = undefined;
    return Promise.resolve();
  }
}
