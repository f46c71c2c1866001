/**
 * The one flat option set every adapter takes (Node, web, iter), familiar to @google-cloud/storage
 * users: no nested `upload: {}` or `object: {}`. Unknown names and values outside their set are
 * refused with a {@link ValidationError} naming the option (see `validate.ts`).
 */
import type { ChecksumMode, GenerationNumber, ObjectMetadata, PredefinedAcl } from "../options.js";
import type { AbortSignalLike } from "../transport.js";
import type { CheckpointStore } from "./checkpoint-store.js";

/** The largest `chunkSize` accepted: 512 MiB. An upload holds about two chunks in memory. */
export const MAX_CHUNK_SIZE = 512 * 1024 * 1024;

/**
 * Object resource fields sent at session start (JSON API). `contentType` is a top-level option, not
 * one of these.
 */
export type UploadMetadata = Omit<ObjectMetadata, "contentType">;

/** How failed exchanges are retried (see core's `RetryOptions`); every field has a default. */
export interface UploadRetryOptions {
  /** Backoff before the first retry, ms. Default 1000. */
  readonly initialDelayMs?: number;
  /** Cap on one backoff, ms. Default 32000. */
  readonly maxDelayMs?: number;
  /** Growth factor between backoffs (≥ 1). Default 2. */
  readonly multiplier?: number;
  /** `equal` (default), `full` or `none`. */
  readonly jitter?: "equal" | "full" | "none";
  /** Failed attempts in a row without progress before `retries-exhausted`. Default 10. */
  readonly maxAttempts?: number;
  /** The bound on time without progress, ms, before `deadline-exceeded`. */
  readonly deadlineMs?: number;
}

/** Everything `createUpload` takes. Give exactly one target: `bucket` + `name`, `sessionUri` or `signedUrl`. */
export interface UploadOptions {
  /** Bucket of a JSON API upload (with `name`). */
  readonly bucket?: string;
  /** Object name of a JSON API upload (with `bucket`). */
  readonly name?: string;
  /** Continue a session URI minted elsewhere (e.g. by your server, with this client's `origin`). A secret. */
  readonly sessionUri?: string;
  /** Start through a V4 signed URL (`x-goog-resumable: start`). Never gets credentials. */
  readonly signedUrl?: string;
  /** MIME type of the object (JSON API), or the Content-Type a signed URL was signed with. */
  readonly contentType?: string;
  /** Object resource fields for a JSON API upload. */
  readonly metadata?: UploadMetadata;
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
  /** Bytes per request: a multiple of 256 KiB up to {@link MAX_CHUNK_SIZE}; default 8 MiB. Memory is about two chunks. */
  readonly chunkSize?: number;
  /** The total size, when known: declared at start, checked at the end. */
  readonly totalSize?: number;
  /** End-to-end checksums sent on finalize and verified: default `crc32c`. */
  readonly checksum?: ChecksumMode;
  /** Retry policy. */
  readonly retry?: UploadRetryOptions;
  /** A request without progress for this long is abandoned and retried; default 60000 ms. */
  readonly idleTimeoutMs?: number;
  /** A customer-supplied AES-256 key: 32 raw bytes, or their base64. Its headers go on every request. */
  readonly encryptionKey?: Uint8Array | string;
  /** Resume from this checkpoint; the source must then start at `upload.resumeOffset`. */
  readonly checkpoint?: unknown;
  /** Saves checkpoints as the upload goes (coalesced); cleared when the upload is done or cancelled. */
  readonly checkpointStore?: CheckpointStore;
  /** Aborting it aborts the upload (applying `onAbort`). */
  readonly signal?: AbortSignalLike;
  /** What an abort does to the session: `cancel` (default) deletes it; `keep` leaves it resumable and saves the checkpoint. */
  readonly onAbort?: "cancel" | "keep";
  /** The JSON API endpoint, e.g. `http://127.0.0.1:9023` for an emulator. */
  readonly apiEndpoint?: string;
  /** A universe domain: requests go to `https://storage.{universeDomain}`. */
  readonly universeDomain?: string;
  /** Allow plain http to a host that is not loopback (credentials still stay off unless `authOverHttp`). */
  readonly allowInsecureHttp?: boolean;
  /** Send credentials over plain http too. Off by default: a token must never cross in clear. */
  readonly authOverHttp?: boolean;
  /** Origins (`https://host[:port]`) besides the endpoint's (or the signed URL's) that a session URI may be on. */
  readonly trustedSessionOrigins?: readonly string[];
  /** Sent as `Origin` on the session start, so a browser may use the session (CORS). */
  readonly origin?: string;
  /** Headers added to every request (protocol headers are refused). */
  readonly extraHeaders?: Readonly<Record<string, string>>;
  /** Sent as `User-Agent` (a browser transport may drop it). */
  readonly userAgent?: string;
  /** The adapter's transport choice or a `Transport` object; validated by the runtime. */
  readonly transport?: unknown;
  /** The adapter's credentials choice; validated by the runtime. */
  readonly auth?: unknown;
  /** Compress on the fly (JSON API only): the object gets `contentEncoding: gzip`; the CRC32C covers the stored bytes. */
  readonly gzip?: boolean;
  /**
   * Parts in flight at once, 1–32: giving it (or `partSize`) sends the object as an XML API
   * multipart upload instead of a resumable session, so several parts travel at once. Default when
   * only `partSize` is given: 4. Needs `bucket` + `name`; refused with `sessionUri`, `signedUrl`,
   * `chunkSize`, `origin`, `checksum: "md5"`, the "not match" preconditions and holds. Memory is at
   * most `(parallelism + 1) × partSize`.
   */
  readonly parallelism?: number;
  /**
   * The base part size of a multipart upload, 5 MiB–5 GiB; default 16 MiB. Giving it (or
   * `parallelism`) picks the multipart upload. For an unknown total the size doubles every 900
   * parts so any object fits in 10,000 parts; with `totalSize` every part has one size.
   */
  readonly partSize?: number;
  /**
   * `"auto"` (default): when the source ends before the first chunk (`chunkSize`) is full, the whole
   * object goes as one JSON API multipart request (metadata and bytes in one body, checksums
   * verified by GCS) instead of a session start plus a PUT: one round trip instead of two. Only for
   * `bucket` + `name` without `parallelism`, `origin` or a `checkpoint`; no session (no `session`
   * event, no checkpoint) exists until the source outgrew the first chunk. `"never"`: always a
   * resumable session.
   */
  readonly singleRequest?: "auto" | "never";
}

/** Every option name of {@link UploadOptions}, for the unknown-name check. */
export const uploadOptionNames: readonly (keyof UploadOptions)[] = [
  "bucket",
  "name",
  "sessionUri",
  "signedUrl",
  "contentType",
  "metadata",
  "ifGenerationMatch",
  "ifGenerationNotMatch",
  "ifMetagenerationMatch",
  "ifMetagenerationNotMatch",
  "predefinedAcl",
  "kmsKeyName",
  "userProject",
  "chunkSize",
  "totalSize",
  "checksum",
  "retry",
  "idleTimeoutMs",
  "encryptionKey",
  "checkpoint",
  "checkpointStore",
  "signal",
  "onAbort",
  "apiEndpoint",
  "universeDomain",
  "allowInsecureHttp",
  "authOverHttp",
  "trustedSessionOrigins",
  "origin",
  "extraHeaders",
  "userAgent",
  "transport",
  "auth",
  "gzip",
  "parallelism",
  "partSize",
  "singleRequest",
];
