import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { UploadError, type CheckpointStore, type UploadCheckpoint } from "@resumable-gcs/core";

/** Thrown when the checkpoint file exists but does not hold JSON (code `invalid-checkpoint`). */
export class CheckpointFileError extends UploadError {
  /** @param message - which file, and what is wrong with it. */
  constructor(message: string, options?: { cause?: unknown }) {
    super("invalid-checkpoint", message, options?.cause === undefined ? {} : { cause: options.cause });
    this.name = "CheckpointFileError";
  }
}

/** Escapes `text` for use inside a RegExp. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A checkpoint kept in one JSON file. Saving writes a sibling temp file
 * (`<path>.<pid>.<n>.tmp`), fsyncs it and renames it over the target, so a SIGKILL at any instant
 * leaves a whole checkpoint. A kill between the two leaves a temp file holding a session URI, so a
 * later `save()` or `clear()` removes every stale temp file of the same path. Files are created
 * with mode 0600: a session URI is a bearer capability for the upload.
 *
 * @example
 * ```ts
 * const store = new FileCheckpointStore("./backup.upload.json");
 * ```
 */
export class FileCheckpointStore implements CheckpointStore {
  /** Absolute path of the checkpoint file. */
  readonly path: string;
  readonly #tempPattern: RegExp;
  #sequence = 0;
  #swept = false;

  /** @param path - the checkpoint file (its directory is created on the first save). */
  constructor(path: string) {
    this.path = resolve(path);
    this.#tempPattern = new RegExp(`^${literal(basename(this.path))}\\.\\d+\\.\\d+\\.tmp$`);
  }

  /** The saved checkpoint (parsed JSON), or `undefined` when the file does not exist. */
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

  /** Replaces the checkpoint atomically (temp file, fsync, rename). */
  async save(checkpoint: UploadCheckpoint): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    // Once per store: earlier processes' leftovers go; this process's own temp names never collide.
    if (!this.#swept) {
      this.#swept = true;
      await this.#removeStaleTemps();
    }
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

  /** Removes the checkpoint and any temp file a killed save left behind. */
  async clear(): Promise<void> {
    await rm(this.path, { force: true });
    await this.#removeStaleTemps();
  }

  async #removeStaleTemps(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(dirname(this.path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    await Promise.all(names.filter((name) => this.#tempPattern.test(name)).map((name) => rm(join(dirname(this.path), name), { force: true })));
  }
}
