/**
 * What the XML multipart engine takes, and its validation.
 *
 * The common parts (bucket and object names, endpoint, metadata shapes, generation numbers,
 * headers, encryption key, retry policy, checksum implementations) are validated by core's own
 * {@link resolveOptions}, so both engines refuse exactly the same inputs with the same messages.
 * What is particular to the XML API is checked here: part size and parallelism, and the options
 * that have no XML multipart form (holds, a known MD5, MD5-only verification), which are refused
 * with a {@link ValidationError} naming them rather than silently dropped.
 */
import type { ChecksumProvider } from "../checksum.js";
import type { RandomSource } from "../clock.js";
import { ValidationError } from "../errors.js";
import type { ChecksumMode, EncryptionKey, GenerationNumber, ObjectMetadata, PredefinedAcl, RetryOptions } from "../options.js";
import { resolveOptions, type ResolvedOptions } from "../resolve-options.js";
import { DEFAULT_PARALLELISM, DEFAULT_PART_SIZE, MAX_OBJECT_SIZE, MAX_PART_SIZE, MIN_PART_SIZE } from "./part-schedule.js";

/** The largest `parallelism` accepted: beyond it, memory (`(parallelism + 1) × partSize`) grows for no gain. */
export const MAX_PARALLELISM = 32;

/** Everything the {@link MultipartMachine} takes. */
export interface MultipartUploadOptions {
  /** Bucket name (GCS naming rules). */
  readonly bucket: string;
  /** Object name (1–1024 UTF-8 bytes). */
  readonly name: string;
  /** API endpoint without a trailing slash; default `https://storage.googleapis.com`. The XML API lives at its root. */
  readonly endpoint?: string;
  /** Randomness for backoff jitter, in [0, 1) (core draws none of its own). */
  readonly random: RandomSource;
  /** Parts in flight at once, 1–32. Default 4. */
  readonly parallelism?: number;
  /**
   * The base part size in bytes, 5 MiB–5 GiB. Default 16 MiB. Memory is about
   * `(parallelism + 1) × part size`; for a stream of unknown length the size grows with the part
   * number (see `part-schedule.ts`), for a known total it is fixed.
   */
  readonly partSize?: number;
  /** The total size when known in advance: parts are then all the same size, and writing past it or ending short of it throws. */
  readonly totalSize?: number;
  /**
   * Object metadata, sent on the initiate request as XML API headers (`Content-Type`,
   * `Cache-Control`, `x-goog-meta-*`, …). `temporaryHold`, `eventBasedHold` and `md5Hash` have no
   * XML multipart form and are refused; a given `crc32c` is compared with the stream's before the
   * upload is completed.
   */
  readonly metadata?: ObjectMetadata;
  /** Complete only if the live generation matches (`0`: only if no object exists): `x-goog-if-generation-match` on complete. */
  readonly ifGenerationMatch?: GenerationNumber;
  /** Complete only if the live metageneration matches: `x-goog-if-metageneration-match` on complete. */
  readonly ifMetagenerationMatch?: GenerationNumber;
  /** A canned ACL (JSON API spelling), sent as `x-goog-acl` in the XML API's spelling. */
  readonly predefinedAcl?: PredefinedAcl;
  /** A Cloud KMS key: `x-goog-encryption-kms-key-name` on initiate. */
  readonly kmsKeyName?: string;
  /** The project billed for a requester-pays bucket: `x-goog-user-project` on every request. */
  readonly userProject?: string;
  /** Customer-supplied encryption key: its three headers on every request. */
  readonly encryptionKey?: EncryptionKey;
  /** Headers added to every request (the protocol's own are refused). */
  readonly extraHeaders?: Readonly<Record<string, string>>;
  /** Sent as `User-Agent`. */
  readonly userAgent?: string;
  /** Retry policy, applied to each part and each control request on its own. */
  readonly retry?: RetryOptions;
  /** Checksum implementations (injected). */
  readonly checksums?: ChecksumProvider;
  /**
   * `crc32c` (default when an implementation is given): each part carries `x-goog-hash: crc32c=…`
   * and the object's CRC32C is compared with the whole stream's after completion. `both` adds
   * `Content-MD5` on each part. `md5` alone is refused: a multipart object has no MD5, so nothing
   * would verify the whole object. `none`: no checksums.
   */
  readonly checksum?: ChecksumMode;
  /**
   * What a failure leaves behind. `abort-upload` (default): the multipart upload is aborted, so no
   * parts stay billed. `keep`: it is kept, and `checkpoint()` can resume it.
   */
  readonly onFailure?: "abort-upload" | "keep";
  /**
   * When the completed object's CRC32C differs from the stream's (`checksum-mismatch`), delete that
   * object generation (default false: it is left in place and the error names it).
   */
  readonly deleteOnMismatch?: boolean;
}

/** The multipart options after validation, with defaults. */
export interface ResolvedMultipartOptions {
  /** The common options as core resolved them (target, headers, retry, checksums). */
  readonly base: ResolvedOptions & { readonly target: { readonly kind: "json" } };
  readonly bucket: string;
  readonly name: string;
  readonly endpoint: string;
  readonly parallelism: number;
  readonly partSize: number;
  readonly totalSize: number | undefined;
  /** Headers every request carries: core's common ones (extra headers, user agent, CSEK) plus `x-goog-user-project`. */
  readonly commonHeaders: Readonly<Record<string, string>>;
  /** Headers of the initiate request beyond the common ones (metadata, ACL, KMS). */
  readonly initiateHeaders: Readonly<Record<string, string>>;
  /** Precondition headers of the complete request. */
  readonly completeHeaders: Readonly<Record<string, string>>;
  /** The CRC32C the caller declared (base64), checked before completing. */
  readonly declaredCrc32c: string | undefined;
  readonly md5: boolean;
  readonly onFailure: "abort-upload" | "keep";
  readonly deleteOnMismatch: boolean;
}

/** The XML API's spelling of each canned ACL. */
export const xmlAclNames: Readonly<Record<PredefinedAcl, string>> = {
  authenticatedRead: "authenticated-read",
  bucketOwnerFullControl: "bucket-owner-full-control",
  bucketOwnerRead: "bucket-owner-read",
  private: "private",
  projectPrivate: "project-private",
  publicRead: "public-read",
};

const tokenPattern = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function integerIn(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ValidationError(field, `expected an integer from ${min} to ${max}, came ${typeof value === "number" ? String(value) : typeof value}`);
  }
  return value;
}

/**
 * Validates `options` and fills in every default.
 *
 * @throws ValidationError naming the first field at fault.
 */
export function resolveMultipartOptions(options: MultipartUploadOptions): ResolvedMultipartOptions {
  if (typeof options !== "object" || options === null) throw new ValidationError("options", "expected an object");
  const metadata = options.metadata ?? {};
  for (const field of ["temporaryHold", "eventBasedHold"] as const) {
    if (metadata[field] !== undefined) {
      throw new ValidationError(`metadata.${field}`, "the XML multipart API cannot place holds; set it on the object after the upload, or use the resumable path");
    }
  }
  if (metadata.md5Hash !== undefined) {
    throw new ValidationError("metadata.md5Hash", "an object built from a multipart upload has no MD5 for GCS to check; give crc32c instead, or use the resumable path");
  }
  if (options.checksum === "md5") {
    throw new ValidationError("checksum", 'an object built from a multipart upload has no MD5, so "md5" alone would verify nothing end to end; use "both" (MD5 per part, CRC32C for the object) or "crc32c"');
  }
  const base = resolveOptions({
    target: {
      kind: "json",
      bucket: options.bucket,
      name: options.name,
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      metadata,
      ...(options.ifGenerationMatch === undefined ? {} : { ifGenerationMatch: options.ifGenerationMatch }),
      ...(options.ifMetagenerationMatch === undefined ? {} : { ifMetagenerationMatch: options.ifMetagenerationMatch }),
      ...(options.predefinedAcl === undefined ? {} : { predefinedAcl: options.predefinedAcl }),
      ...(options.kmsKeyName === undefined ? {} : { kmsKeyName: options.kmsKeyName }),
      ...(options.userProject === undefined ? {} : { userProject: options.userProject }),
    },
    random: options.random,
    ...(options.encryptionKey === undefined ? {} : { encryptionKey: options.encryptionKey }),
    ...(options.extraHeaders === undefined ? {} : { extraHeaders: options.extraHeaders }),
    ...(options.userAgent === undefined ? {} : { userAgent: options.userAgent }),
    ...(options.retry === undefined ? {} : { retry: options.retry }),
    ...(options.checksums === undefined ? {} : { checksums: options.checksums }),
    ...(options.checksum === undefined ? {} : { checksum: options.checksum }),
    ...(options.totalSize === undefined ? {} : { totalSize: options.totalSize }),
  });
  const target = base.target;
  if (target.kind !== "json") throw new Error("resolveMultipartOptions: core resolved a JSON target to another kind");
  const parallelism = options.parallelism === undefined ? DEFAULT_PARALLELISM : integerIn("parallelism", options.parallelism, 1, MAX_PARALLELISM);
  const partSize = options.partSize === undefined ? DEFAULT_PART_SIZE : integerIn("partSize", options.partSize, MIN_PART_SIZE, MAX_PART_SIZE);
  if (base.totalSize !== undefined && base.totalSize > MAX_OBJECT_SIZE) {
    throw new ValidationError("totalSize", `expected at most ${MAX_OBJECT_SIZE} bytes (5 TiB, GCS's largest object), came ${base.totalSize}`);
  }
  if (options.onFailure !== undefined && options.onFailure !== "abort-upload" && options.onFailure !== "keep") {
    throw new ValidationError("onFailure", `expected "abort-upload" or "keep", came ${String(options.onFailure)}`);
  }
  if (options.deleteOnMismatch !== undefined && typeof options.deleteOnMismatch !== "boolean") {
    throw new ValidationError("deleteOnMismatch", `expected a boolean, came ${typeof options.deleteOnMismatch}`);
  }

  const initiate: Record<string, string> = {};
  const m = target.metadata;
  if (m.contentType !== undefined) initiate["content-type"] = m.contentType;
  if (m.cacheControl !== undefined) initiate["cache-control"] = m.cacheControl;
  if (m.contentDisposition !== undefined) initiate["content-disposition"] = m.contentDisposition;
  if (m.contentEncoding !== undefined) initiate["content-encoding"] = m.contentEncoding;
  if (m.contentLanguage !== undefined) initiate["content-language"] = m.contentLanguage;
  if (m.storageClass !== undefined) initiate["x-goog-storage-class"] = m.storageClass;
  if (m.customTime !== undefined) initiate["x-goog-custom-time"] = m.customTime;
  for (const [key, value] of Object.entries(m.metadata ?? {})) {
    // Custom metadata travels as headers in the XML API: names must be tokens, values printable ASCII.
    if (!tokenPattern.test(key)) throw new ValidationError(`metadata.metadata.${key}`, "expected a key usable in an x-goog-meta-* header (token characters only)");
    if (!/^[\x20-\x7e]*$/.test(value)) throw new ValidationError(`metadata.metadata.${key}`, "expected printable ASCII (the XML API sends custom metadata as a header value)");
    initiate[`x-goog-meta-${key.toLowerCase()}`] = value;
  }
  const complete: Record<string, string> = {};
  const common: Record<string, string> = { ...base.commonHeaders };
  for (const [key, value] of target.query) {
    if (key === "predefinedAcl") initiate["x-goog-acl"] = xmlAclNames[value as PredefinedAcl];
    else if (key === "kmsKeyName") initiate["x-goog-encryption-kms-key-name"] = value;
    else if (key === "ifGenerationMatch") complete["x-goog-if-generation-match"] = value;
    else if (key === "ifMetagenerationMatch") complete["x-goog-if-metageneration-match"] = value;
    else if (key === "userProject") common["x-goog-user-project"] = value;
  }
  if (base.crc32c === undefined && m.crc32c !== undefined) {
    throw new ValidationError("metadata.crc32c", "checking a known CRC32C needs checksum \"crc32c\" or \"both\" and a CRC32C implementation");
  }
  return {
    base: base as ResolvedMultipartOptions["base"],
    bucket: target.bucket,
    name: target.name,
    endpoint: target.endpoint,
    parallelism,
    partSize,
    commonHeaders: common,
    totalSize: base.totalSize,
    initiateHeaders: initiate,
    completeHeaders: complete,
    declaredCrc32c: m.crc32c,
    md5: base.md5 !== undefined,
    onFailure: options.onFailure ?? "abort-upload",
    deleteOnMismatch: options.deleteOnMismatch ?? false,
  };
}
