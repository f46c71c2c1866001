/**
 * Checkpoint stores for the web platform: IndexedDB (the default choice in a page: asynchronous,
 * survives reloads, readable from workers) and Web Storage (`localStorage`: synchronous and small,
 * but everywhere, Deno included).
 *
 * A checkpoint holds the session URI, a bearer capability for the object for a week: anyone who can
 * run script on the page's origin can read it from either store. Keep them per user and clear them
 * when done (the upload layer clears its store itself when the upload ends or is cancelled).
 *
 * Both store the checkpoint as the plain JSON object the upload layer gives them and hand back what
 * they find untouched: validating it (format, integrity, options) is the layer's job, in one place.
 */
import type { UploadCheckpoint } from "@resumable-gcs/core";

/** The part of the Web Storage API a {@link LocalStorageCheckpointStore} uses (`localStorage`, `sessionStorage`). */
export interface StorageLike {
  /** The value stored under `key`, or null. */
  getItem(key: string): string | null;
  /** Stores `value` under `key`. */
  setItem(key: string, value: string): void;
  /** Removes `key`. */
  removeItem(key: string): void;
}

/** Options for {@link LocalStorageCheckpointStore}. */
export interface LocalStorageCheckpointStoreOptions {
  /** The storage to use; `globalThis.localStorage` by default. */
  readonly storage?: StorageLike | undefined;
}

/**
 * A checkpoint store on Web Storage, one key per upload.
 *
 * @example
 * ```ts
 * const store = new LocalStorageCheckpointStore(`upload:${file.name}:${file.size}:${file.lastModified}`);
 * ```
 */
export class LocalStorageCheckpointStore {
  readonly #key: string;
  readonly #storage: StorageLike;

  /** A store for the checkpoint saved under `key`. */
  constructor(key: string, options: LocalStorageCheckpointStoreOptions = {}) {
    if (typeof key !== "string" || key === "") throw new TypeError("LocalStorageCheckpointStore: key must be a non-empty string");
    const storage = options.storage ?? (globalThis as { localStorage?: StorageLike }).localStorage;
    if (storage === undefined) throw new TypeError("LocalStorageCheckpointStore: this runtime has no localStorage (pass options.storage)");
    this.#key = key;
    this.#storage = storage;
  }

  /** The saved checkpoint (parsed JSON), or undefined when none is saved. */
  load(): Promise<unknown> {
    try {
      const text = this.#storage.getItem(this.#key);
      // Unparseable text is handed on as it is: the layer refuses it as an invalid checkpoint.
      return Promise.resolve(text === null ? undefined : parseOrRaw(text));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Saves `checkpoint`, replacing any earlier one. */
  save(checkpoint: UploadCheckpoint): Promise<void> {
    try {
      this.#storage.setItem(this.#key, JSON.stringify(checkpoint));
      return Promise.resolve();
    } catch (error) {
      // QuotaExceededError and friends: the layer reports a failed save; the upload goes on.
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Removes the saved checkpoint. */
  clear(): Promise<void> {
    try {
      this.#storage.removeItem(this.#key);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

function parseOrRaw(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The part of `indexedDB` an {@link IndexedDbCheckpointStore} uses. */
export interface IndexedDbFactoryLike {
  /** Opens (creating or upgrading) a database. */
  open(name: string, version?: number): unknown;
}

/** Options for {@link IndexedDbCheckpointStore}. */
export interface IndexedDbCheckpointStoreOptions {
  /** The database name; default `"resumable-gcs"`. */
  readonly databaseName?: string | undefined;
  /** The object store inside it; default `"checkpoints"`. */
  readonly storeName?: string | undefined;
  /** The IndexedDB factory; `globalThis.indexedDB` by default. */
  readonly indexedDB?: IndexedDbFactoryLike | undefined;
}

function requestResult<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error("IndexedDB request failed"));
  });
}

/**
 * A checkpoint store on IndexedDB: one record per key in one object store, opened lazily on first
 * use (nothing touches IndexedDB at construction or page load).
 *
 * @example
 * ```ts
 * const store = new IndexedDbCheckpointStore(`upload:${file.name}:${file.size}:${file.lastModified}`);
 * const upload = createUploadStream({ sessionUri, checkpointStore: store, onAbort: "keep" });
 * ```
 */
export class IndexedDbCheckpointStore {
  readonly #key: string;
  readonly #databaseName: string;
  readonly #storeName: string;
  readonly #factory: IDBFactory;
  #database: Promise<IDBDatabase> | undefined;

  /** A store for the checkpoint saved under `key`. */
  constructor(key: string, options: IndexedDbCheckpointStoreOptions = {}) {
    if (typeof key !== "string" || key === "") throw new TypeError("IndexedDbCheckpointStore: key must be a non-empty string");
    const factory = options.indexedDB ?? (globalThis as { indexedDB?: IndexedDbFactoryLike }).indexedDB;
    if (factory === undefined) throw new TypeError("IndexedDbCheckpointStore: this runtime has no indexedDB (pass options.indexedDB)");
    this.#key = key;
    this.#databaseName = options.databaseName ?? "resumable-gcs";
    this.#storeName = options.storeName ?? "checkpoints";
    this.#factory = factory as IDBFactory;
  }

  #open(): Promise<IDBDatabase> {
    this.#database ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = this.#factory.open(this.#databaseName);
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(this.#storeName)) request.result.createObjectStore(this.#storeName);
      };
      // Another tab or store may need to upgrade this database: yield (close) so it is not blocked forever.
      const yieldToUpgrades = (database: IDBDatabase): IDBDatabase => {
        database.onversionchange = () => {
          database.close();
          this.#database = undefined;
        };
        return database;
      };
      request.onsuccess = () => {
        const database = request.result;
        if (database.objectStoreNames.contains(this.#storeName)) {
          resolve(yieldToUpgrades(database));
          return;
        }
        // The database exists without our object store (another store name): add it with a version bump.
        const version = database.version + 1;
        database.close();
        const upgrade = this.#factory.open(this.#databaseName, version);
        upgrade.onupgradeneeded = () => upgrade.result.createObjectStore(this.#storeName);
        upgrade.onsuccess = () => resolve(yieldToUpgrades(upgrade.result));
        upgrade.onerror = () => reject(upgrade.error ?? new Error("IndexedDB upgrade failed"));
      };
      request.onerror = () => reject(request.error ?? new Error("IndexedDB open failed"));
    });
    // A failed open (private mode, quota) may succeed later: do not keep the rejection.
    this.#database.catch(() => (this.#database = undefined));
    return this.#database;
  }

  async #transact<T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const database = await this.#open();
    const transaction = database.transaction(this.#storeName, mode);
    const result = requestResult(act(transaction.objectStore(this.#storeName)));
    await new Promise<void>((resolve, reject) => {
      transaction.oncomplete = () => resolve();
      transaction.onerror = () => reject(transaction.error ?? new Error("IndexedDB transaction failed"));
      transaction.onabort = () => reject(transaction.error ?? new Error("IndexedDB transaction aborted"));
    });
    return result;
  }

  /** The saved checkpoint, or undefined when none is saved. */
  async load(): Promise<unknown> {
    return (await this.#transact("readonly", (store) => store.get(this.#key))) as unknown;
  }

  /** Saves `checkpoint`, replacing any earlier one (committed when this resolves). */
  async save(checkpoint: UploadCheckpoint): Promise<void> {
    // A JSON round trip stores exactly what localStorage or a file would: the same format everywhere.
    const plain = JSON.parse(JSON.stringify(checkpoint)) as unknown;
    await this.#transact("readwrite", (store) => store.put(plain, this.#key));
  }

  /** Removes the saved checkpoint. */
  async clear(): Promise<void> {
    await this.#transact("readwrite", (store) => store.delete(this.#key));
  }

  /** Closes the database connection (a later call reopens it). */
  close(): void {
    const database = this.#database;
    this.#database = undefined;
    void database?.then((db) => db.close(), () => undefined);
  }
}
