/**
 * Every option core takes, in one file, as interfaces: each extension point (transport, clock,
 * checksums, randomness) is an interface an adapter fills in. Validation and defaults live in
 * `resolve-options.ts`; this file only says what may be given and what it means.
 */
import type { ChecksumProvider } from "./checksum.js";
import type { RandomSource } from "./clock.js";

/** 256 KiB: every chunk except the last must be a multiple of this. */
export const CHUNK_GRANULARITY = 262_144;

/** The default chunk size: 8 MiB. Larger chunks mean fewer requests; each costs one chunk of memory. */
export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;

/** The default JSON API endpoint. */
export const DEFAULT_ENDPOINT = "https://storage.googleapis.com";

/**
 * Object resource fields set when the session starts (JSON API). Only the fields given are sent.
 * See the JSON API's object resource for their meaning.
 */
export interface ObjectMetadata {
  /** MIME type of the object (also sent as `X-Upload-Content-Type`). */
  readonly contentType?: string;
  /** e.g. `gzip` for a pre-compressed object. */
  readonly contentEncoding?: string;
  /** e.g. `attachment; filename="report.pdf"`. */
  readonly contentDisposition?: string;
  /** e.g. `en`. */
  readonly contentLanguage?: string;
  /** e.g. `public, max-age=3600`. */
  readonly cacheControl?: string;
  /** RFC 3339 timestamp, e.g. `2030-01-01T00:00:00Z`. */
  readonly customTime?: string;
  /** Custom key/value metadata. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** e.g. `STANDARD`, `NEARLINE`, `COLDLINE`, `ARCHIVE`. */
  readonly storageClass?: string;
  /** Places a temporary hold on the object. */
  readonly temporaryHold?: boolean;
  /** Places an event-based hold on the object. */
  readonly eventBasedHold?: boolean;
  /** The CRC32C the caller already knows (base64, big-endian); GCS checks it on finalization. */
  readonly crc32c?: string;
  /** The MD5 the caller already knows (base64); GCS checks it on finalization. */
  readonly md5Hash?: string;
}

/** The canned ACLs the JSON API accepts as `predefinedAcl`. */
export type PredefinedAcl =
  | "authenticatedRead"
  | "bucketOwnerFullControl"
  | "bucketOwnerRead"
  | "private"
  | "projectPrivate"
  | "publicRead";

/** A generation or metageneration number: a non-negative integer, or its decimal string (int64). */
export type GenerationNumber = number | string;

/** Start the session through the JSON API (the default path; the transport adds credentials). */
export interface JsonApiTarget {
  /** Discriminant. */
  readonly kind: "json";
  /** Bucket name; validated against GCS's naming rules. */
  readonly bucket: string;
  /** Object name; 1–1024 UTF-8 bytes, no CR/LF, not `.`/`..`, not under `.well-known/acme-challenge/`. */
  readonly name: string;
  /** API endpoint, without a trailing slash; default {@link DEFAULT_ENDPOINT}. */
  readonly endpoint?: string;
  /** Object resource fields set at start. */
  readonly metadata?: ObjectMetadata;
  /** Only create if the live generation matches (`0`: only if the object does not exist yet). */
  readonly ifGenerationMatch?: GenerationNumber;
  /** Only create if the live generation does not match. */
  readonly ifGenerationNotMatch?: GenerationNumber;
  /** Only create if the live metageneration matches. */
  readonly ifMetagenerationMatch?: GenerationNumber;
  /** Only create if the live metageneration does not match. */
  readonly ifMetagenerationNotMatch?: GenerationNumber;
  /** A canned ACL for the new object. */
  readonly predefinedAcl?: PredefinedAcl;
  /** A Cloud KMS key to encrypt the object with. */
  readonly kmsKeyName?: string;
  /** The project billed for a requester-pays bucket. */
  readonly userProject?: string;
}

/** Start the session through a V4 signed URL (XML API: `x-goog-resumable: start`, expects 201). */
export interface SignedUrlTarget {
  /** Discriminant. */
  readonly kind: "signed-url";
  /** The signed URL (signed for POST with the `x-goog-resumable: start` header). */
  readonly url: string;
  /** The Content-Type the URL was signed with, if any; sent as is. */
  readonly contentType?: string;
}

/** Continue a session URI created elsewhere (e.g. by a server, with this client's Origin). */
export interface SessionTarget {
  /** Discriminant. */
  readonly kind: "session";
  /** The session URI (contains `upload_id=`). A secret: never logged in full. */
  readonly sessionUri: string;
}

/** Where the upload goes and how its session is obtained. */
export type UploadTarget = JsonApiTarget | SignedUrlTarget | SessionTarget;

/** A customer-supplied AES-256 encryption key (CSEK). Its headers go on EVERY request. */
export interface EncryptionKey {
  /** The key, base64 (32 bytes). */
  readonly key: string;
  /** SHA-256 of the key, base64 (32 bytes). Given precomputed: core has no crypto of its own. */
  readonly sha256: string;
}

/** How failed exchanges are retried. Every field has a default. */
export interface RetryOptions {
  /** Backoff before the first retry, ms. Default 1000. */
  readonly initialDelayMs?: number;
  /** Cap on one backoff, ms. Default 32000. */
  readonly maxDelayMs?: number;
  /** Growth factor between consecutive backoffs (≥ 1). Default 2. */
  readonly multiplier?: number;
  /**
   * Jitter applied to each backoff `d`, drawn from the injected {@link RandomSource}:
   * `equal` (default) waits `d/2 + random·d/2`, so delays still grow visibly; `full` waits
   * `random·d`; `none` waits exactly `d`.
   */
  readonly jitter?: "equal" | "full" | "none";
  /**
   * Failed attempts allowed in a row without progress. Any advance of the persisted offset (or a new
   * session) resets the count, so a long upload over a flaky link is never condemned by old failures.
   * Reaching it fails the upload with `retries-exhausted`. Default 10.
   */
  readonly maxAttempts?: number;
  /**
   * The overall bound on time without progress, ms: measured from when the first failing attempt
   * since the last progress was sent (a stalled request's wait counts); a retry that would begin
   * later than that fails the upload with `deadline-exceeded` instead. Progress (the persisted
   * offset advancing) opens a fresh window, like the attempt budget. Default 300000 (5 minutes), so
   * a server that never answers holds an upload about five minutes, not ten stalls' worth.
   */
  readonly deadlineMs?: number;
  /**
   * Stall timeout, ms: a request that shows no upload progress (or no response) for this long is
   * abandoned by the driver and treated as a transient failure. Default 60000.
   */
  readonly idleTimeoutMs?: number;
}

/** Which end-to-end checksums are computed, sent as `X-Goog-Hash` on finalize, and verified. */
export type ChecksumMode = "crc32c" | "md5" | "both" | "none";

/** Everything the upload machine takes. */
export interface UploadOptions {
  /** Where the object goes and how the session starts. */
  readonly target: UploadTarget;
  /** Randomness for backoff jitter (core draws none of its own). Must return numbers in [0, 1). */
  readonly random: RandomSource;
  /**
   * The wall clock, epoch milliseconds, read once when a session is created to stamp the
   * checkpoint's `createdAt` (ISO 8601): sessions last about a week. Without it, checkpoints carry
   * no `createdAt`. Core reads no clock of its own; `poll(now)` stays the monotonic time source.
   */
  readonly wallClock?: () => number;
  /** Sent as `Origin` on the session start, so a browser may use the session (CORS). */
  readonly origin?: string;
  /** Customer-supplied encryption key; its three headers go on every request, DELETE included. */
  readonly encryptionKey?: EncryptionKey;
  /**
   * Headers added to every request (names are case-insensitive). Headers the protocol owns
   * (content-range, content-length, content-type, x-goog-hash, x-upload-*, x-goog-resumable,
   * x-goog-encryption-*, host) are refused.
   */
  readonly extraHeaders?: Readonly<Record<string, string>>;
  /** Sent as `User-Agent` on every request (a transport may replace or drop it, as browsers do). */
  readonly userAgent?: string;
  /** Bytes per request: a positive multiple of 262144 (256 KiB). Default 8 MiB. */
  readonly chunkSize?: number;
  /**
   * The total size, when known in advance: sent as `X-Upload-Content-Length` at start and stated on
   * every chunk. Writing past it, or ending short of it, throws a {@link UsageError}.
   */
  readonly totalSize?: number;
  /** Retry policy. */
  readonly retry?: RetryOptions;
  /** Checksum implementations (injected: core has none of its own). */
  readonly checksums?: ChecksumProvider;
  /**
   * Which checksums to use. Default: `crc32c` when `checksums.crc32c` is given, else `none`.
   * MD5 covers the whole object only if this process saw every byte from 0: after a restore
   * from a checkpoint with bytes already persisted, only CRC32C is sent and verified.
   */
  readonly checksum?: ChecksumMode;
}
