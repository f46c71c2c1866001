/**
 * Everything the server holds: buckets, sessions, retry tests, and the few choices made at start.
 * No sockets and no timers here; session expiry is checked when a session is looked up.
 */
import { randomBytes } from "node:crypto";
import type { CorsPolicy, CorsRule } from "./cors.js";
import { RetryTests } from "./faults.js";
import type { Bucket, CustomerKey, MultipartUpload, ObjectMetadataInput, StoredObject, UploadSession } from "./store.js";

/** What an upload hands over to become the live object. */
export interface NewObject {
  readonly bucket: Bucket;
  readonly name: string;
  readonly meta: ObjectMetadataInput;
  readonly customerKey: CustomerKey | undefined;
  readonly size: number;
  readonly crc32c: string;
  readonly md5Hash: string | undefined;
  /** The bytes in memory mode; undefined in discard mode. */
  readonly chunks: readonly Buffer[] | undefined;
}

/** The options the state needs. */
export interface StateOptions {
  readonly storage: "memory" | "discard";
  readonly sessionTtlMs: number;
  readonly autoCreateBuckets: boolean;
  /** Whether MD5 is computed (CRC32C always is). */
  readonly md5: boolean;
  /** false: no CORS headers anywhere (bucket configurations ignored). */
  readonly cors: boolean;
  readonly now: () => number;
}

/** Result of looking a session up: expired sessions are forgotten and reported as such. */
export type SessionLookup = { found: true; session: UploadSession } | { found: false; expired: boolean };

const MAX_EXPIRED_IDS = 100_000;

/** The emulator's data. */
export class EmulatorState {
  readonly buckets = new Map<string, Bucket>();
  readonly sessions = new Map<string, UploadSession>();
  /** XML API multipart uploads by upload id; they never expire (as in GCS), only complete or abort ends one. */
  readonly multipartUploads = new Map<string, MultipartUpload>();
  readonly retryTests = new RetryTests(() => randomId(16));
  /** Upload ids of expired sessions (their data is gone), so they answer 410 rather than 404. Oldest dropped first. */
  readonly #expiredIds = new Set<string>();
  #lastGeneration = 0;

  constructor(readonly options: StateOptions) {}

  /** Whether bytes are kept (memory) or only counted and hashed (discard). */
  get keepBytes(): boolean {
    return this.options.storage === "memory";
  }

  /** Creates a bucket; false if it existed. Name and CORS validity are the caller's business. */
  createBucket(name: string, cors?: readonly CorsRule[]): boolean {
    if (this.buckets.has(name)) return false;
    this.buckets.set(name, { name, timeCreated: new Date(this.options.now()).toISOString(), objects: new Map(), cors });
    return true;
  }

  /** The CORS policy for requests to a bucket (or to no bucket). */
  corsPolicy(bucketName: string | undefined): CorsPolicy {
    if (!this.options.cors) return { mode: "off" };
    const rules = bucketName === undefined ? undefined : this.buckets.get(bucketName)?.cors;
    return rules === undefined ? { mode: "any" } : { mode: "rules", rules };
  }

  /** A bucket, created on the fly when `autoCreateBuckets` is on. */
  bucket(name: string): Bucket | undefined {
    if (!this.buckets.has(name) && this.options.autoCreateBuckets) this.createBucket(name);
    return this.buckets.get(name);
  }

  /** The live object, if any. */
  object(bucket: string, name: string): StoredObject | undefined {
    return this.buckets.get(bucket)?.objects.get(name);
  }

  /** Makes `init` the live object of its name (replacing any older generation) and returns it. */
  commitObject(init: NewObject): StoredObject {
    const now = new Date(this.options.now()).toISOString();
    const object: StoredObject = {
      bucket: init.bucket.name,
      name: init.name,
      generation: this.nextGeneration(),
      metageneration: "1",
      size: init.size,
      crc32c: init.crc32c,
      md5Hash: init.md5Hash,
      contentType: init.meta.contentType ?? "application/octet-stream",
      meta: init.meta,
      timeCreated: now,
      customerKey: init.customerKey,
      chunks: init.chunks ? [...init.chunks] : undefined,
    };
    init.bucket.objects.set(init.name, object);
    return object;
  }

  /**
   * A new generation: GCS uses microseconds since the epoch, strictly increasing per object; we keep it
   * strictly increasing across the whole emulator.
   */
  nextGeneration(): string {
    this.#lastGeneration = Math.max(this.#lastGeneration + 1, this.options.now() * 1000);
    return String(this.#lastGeneration);
  }

  /** Looks a session up by upload id, forgetting it (but remembering that it expired) once its time to live has passed. */
  session(uploadId: string): SessionLookup {
    const session = this.sessions.get(uploadId);
    if (!session) return { found: false, expired: this.#expiredIds.has(uploadId) };
    if (this.#expired(session)) {
      this.#expire(session);
      return { found: false, expired: true };
    }
    return { found: true, session };
  }

  /** Registers a new session, sweeping expired ones first so memory does not grow with old sessions. */
  addSession(session: UploadSession): void {
    for (const old of this.sessions.values()) if (this.#expired(old)) this.#expire(old);
    this.sessions.set(session.uploadId, session);
  }

  #expire(session: UploadSession): void {
    this.sessions.delete(session.uploadId);
    session.data.release();
    this.#expiredIds.add(session.uploadId);
    // A bounded memory of expired ids: beyond it, the oldest answer 404 like an unknown id.
    if (this.#expiredIds.size > MAX_EXPIRED_IDS) this.#expiredIds.delete(this.#expiredIds.values().next().value!);
  }

  #expired(session: UploadSession): boolean {
    return this.options.now() - session.createdAt >= this.options.sessionTtlMs;
  }
}

/** A random URL-safe id of `bytes` random bytes. */
export function randomId(bytes: number): string {
  return randomBytes(bytes).toString("base64url");
}
