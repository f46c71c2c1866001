/**
 * Turns {@link UploadOptions} into the checked, defaulted form the machine runs on.
 *
 * Everything a caller can get wrong is caught here, synchronously, as a {@link ValidationError}
 * naming the field, before any request exists: a bad bucket name must not cost a round trip.
 */
import { decodeBase64 } from "./base64.js";
import type { Checksum, Crc32cChecksum } from "./checksum.js";
import type { RandomSource } from "./clock.js";
import { describeValue } from "./describe.js";
import { ValidationError } from "./errors.js";
import { fnv1a64 } from "./fnv1a.js";
import {
  CHUNK_GRANULARITY,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_ENDPOINT,
  type ChecksumMode,
  type GenerationNumber,
  type JsonApiTarget,
  type ObjectMetadata,
  type PredefinedAcl,
  type UploadOptions,
} from "./options.js";
import { hasLoneSurrogate, utf8Length } from "./utf8.js";

/** Retry policy with every default filled in. */
export interface ResolvedRetry {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  readonly jitter: "equal" | "full" | "none";
  readonly maxAttempts: number;
  readonly deadlineMs: number;
  readonly idleTimeoutMs: number;
}

/** A JSON API target with its endpoint resolved and its generation numbers as decimal strings. */
export interface ResolvedJsonTarget {
  readonly kind: "json";
  readonly endpoint: string;
  readonly bucket: string;
  readonly name: string;
  readonly metadata: ObjectMetadata;
  readonly query: readonly (readonly [string, string])[];
}

/** The validated target. */
export type ResolvedTarget =
  | ResolvedJsonTarget
  | { readonly kind: "signed-url"; readonly url: string; readonly contentType?: string }
  | { readonly kind: "session"; readonly sessionUri: string };

/** Options after validation and defaults. */
export interface ResolvedOptions {
  readonly target: ResolvedTarget;
  readonly random: RandomSource;
  readonly wallClock?: () => number;
  readonly origin?: string;
  /** Headers every request carries: extra headers, user agent, encryption key. */
  readonly commonHeaders: Readonly<Record<string, string>>;
  readonly chunkSize: number;
  readonly totalSize?: number;
  readonly retry: ResolvedRetry;
  readonly crc32c?: (initial?: number) => Crc32cChecksum;
  readonly md5?: () => Checksum;
  readonly checksum: ChecksumMode;
  /** Identifies what must be the same when a checkpoint is restored (see {@link fingerprintOf}). */
  readonly fingerprint: string;
}

const predefinedAcls: ReadonlySet<string> = new Set<PredefinedAcl>([
  "authenticatedRead",
  "bucketOwnerFullControl",
  "bucketOwnerRead",
  "private",
  "projectPrivate",
  "publicRead",
]);

/** Headers core writes itself; letting a caller override them would break the protocol. */
const reservedHeaders = new Set([
  "content-range",
  "content-length",
  "content-type",
  "x-goog-hash",
  "x-upload-content-length",
  "x-upload-content-type",
  "x-goog-resumable",
  "x-goog-encryption-algorithm",
  "x-goog-encryption-key",
  "x-goog-encryption-key-sha256",
  "host",
  "transfer-encoding",
  "connection",
]);

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;


/**
 * Why `bucket` is not a valid GCS bucket name, or `undefined` when it is.
 *
 * The rules: 3–63 characters (up to 222 when it contains dots, each dot-separated part at most 63);
 * lowercase letters, digits, `-`, `_` and `.`; starts and ends with a letter or digit; does not
 * start with `goog`, does not contain `google`; is not an IPv4 address.
 */
export function bucketNameProblem(bucket: unknown): string | undefined {
  if (typeof bucket !== "string") return `expected a string, came ${describeValue(bucket)}`;
  const dotted = bucket.includes(".");
  const max = dotted ? 222 : 63;
  if (bucket.length < 3 || bucket.length > max) {
    return `expected 3 to ${max} characters${dotted ? "" : " (222 with dots)"}, came ${bucket.length}`;
  }
  if (!/^[a-z0-9._-]+$/.test(bucket)) {
    return `expected only lowercase letters, digits, "-", "_" and ".", came ${describeValue(bucket)}`;
  }
  if (!/^[a-z0-9]/.test(bucket) || !/[a-z0-9]$/.test(bucket)) {
    return `expected to start and end with a letter or digit, came ${describeValue(bucket)}`;
  }
  if (dotted && bucket.split(".").some((part) => part.length === 0 || part.length > 63)) {
    return `expected each dot-separated part to be 1 to 63 characters, came ${describeValue(bucket)}`;
  }
  if (bucket.startsWith("goog")) return `bucket names may not start with "goog", came ${describeValue(bucket)}`;
  if (bucket.includes("google")) return `bucket names may not contain "google", came ${describeValue(bucket)}`;
  if (/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bucket)) {
    return `bucket names may not be an IP address, came ${describeValue(bucket)}`;
  }
  return undefined;
}

/**
 * Why `name` is not a valid GCS object name, or `undefined` when it is: 1–1024 bytes of valid UTF-8,
 * no carriage return or line feed, not `.` or `..`, not under `.well-known/acme-challenge/`.
 */
export function objectNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string") return `expected a string, came ${describeValue(name)}`;
  if (name.length === 0) return "expected 1 to 1024 bytes, came an empty name";
  if (hasLoneSurrogate(name)) return "expected valid Unicode (it is sent as UTF-8), came a lone surrogate";
  const bytes = utf8Length(name);
  if (bytes > 1024) return `expected 1 to 1024 bytes of UTF-8, came ${bytes}`;
  if (/[\r\n]/.test(name)) return "expected no carriage return or line feed";
  if (name === "." || name === "..") return `expected a name other than ${describeValue(name)}`;
  if (name.startsWith(".well-known/acme-challenge/")) return 'expected a name not under ".well-known/acme-challenge/"';
  return undefined;
}

function absoluteHttpUrl(field: string, value: unknown): string {
  if (typeof value !== "string" || !/^https?:\/\/[^/?#\s]+([/?#]\S*)?$/i.test(value)) {
    throw new ValidationError(field, `expected an absolute http(s) URL, came ${typeof value === "string" ? "a malformed URL" : describeValue(value)}`);
  }
  return value;
}

function headerValue(field: string, value: unknown): string {
  if (typeof value !== "string") throw new ValidationError(field, `expected a string, came ${describeValue(value)}`);
  if (/[\r\n\0]/.test(value)) throw new ValidationError(field, "expected a header value without CR, LF or NUL");
  return value;
}

function safeInteger(field: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new ValidationError(field, `expected an integer ≥ ${min}, came ${describeValue(value)}`);
  }
  return value;
}

function finiteNumber(field: string, value: unknown, min: number, exclusive = false): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || (exclusive && value === min)) {
    throw new ValidationError(field, `expected a number ${exclusive ? ">" : "≥"} ${min}, came ${describeValue(value)}`);
  }
  return value;
}

function generation(field: string, value: GenerationNumber | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return String(value);
  if (typeof value === "string" && /^(0|[1-9]\d{0,18})$/.test(value)) return value;
  throw new ValidationError(field, `expected a non-negative integer or its decimal string, came ${describeValue(value)}`);
}

function base64Of32Bytes(field: string, value: unknown): string {
  if (typeof value !== "string") throw new ValidationError(field, `expected base64 text, came ${describeValue(value)}`);
  const bytes = decodeBase64(value);
  if (bytes === undefined) throw new ValidationError(field, "expected standard base64 (with padding), came malformed text");
  if (bytes.length !== 32) throw new ValidationError(field, `expected 32 bytes once decoded, came ${bytes.length}`);
  return value;
}

function resolveMetadata(value: unknown): ObjectMetadata {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ValidationError("target.metadata", `expected an object, came ${describeValue(value)}`);
  }
  const metadata = value as Record<string, unknown>;
  for (const key of ["contentType", "contentEncoding", "contentDisposition", "contentLanguage", "cacheControl", "customTime", "storageClass", "crc32c", "md5Hash"]) {
    const v = metadata[key];
    if (v !== undefined && typeof v !== "string") throw new ValidationError(`target.metadata.${key}`, `expected a string, came ${describeValue(v)}`);
  }
  for (const key of ["temporaryHold", "eventBasedHold"]) {
    const v = metadata[key];
    if (v !== undefined && typeof v !== "boolean") throw new ValidationError(`target.metadata.${key}`, `expected a boolean, came ${describeValue(v)}`);
  }
  if (metadata.contentType !== undefined) headerValue("target.metadata.contentType", metadata.contentType);
  if (metadata.crc32c !== undefined) {
    const bytes = decodeBase64(metadata.crc32c as string);
    if (bytes?.length !== 4) throw new ValidationError("target.metadata.crc32c", "expected the base64 of 4 big-endian bytes");
  }
  if (metadata.md5Hash !== undefined) {
    const bytes = decodeBase64(metadata.md5Hash as string);
    if (bytes?.length !== 16) throw new ValidationError("target.metadata.md5Hash", "expected the base64 of 16 bytes");
  }
  const custom = metadata.metadata;
  if (custom !== undefined) {
    if (typeof custom !== "object" || custom === null || Array.isArray(custom)) {
      throw new ValidationError("target.metadata.metadata", `expected an object of strings, came ${describeValue(custom)}`);
    }
    for (const [k, v] of Object.entries(custom)) {
      if (typeof v !== "string") throw new ValidationError(`target.metadata.metadata.${k}`, `expected a string, came ${describeValue(v)}`);
    }
  }
  return metadata;
}

function resolveJsonTarget(target: JsonApiTarget): ResolvedJsonTarget {
  const bucketProblem = bucketNameProblem(target.bucket);
  if (bucketProblem !== undefined) throw new ValidationError("target.bucket", bucketProblem);
  const nameProblem = objectNameProblem(target.name);
  if (nameProblem !== undefined) throw new ValidationError("target.name", nameProblem);
  let endpoint = DEFAULT_ENDPOINT;
  if (target.endpoint !== undefined) {
    endpoint = absoluteHttpUrl("target.endpoint", target.endpoint);
    if (/[?#]/.test(endpoint)) throw new ValidationError("target.endpoint", "expected no query or fragment");
    endpoint = endpoint.replace(/\/+$/, "");
  }
  const query: [string, string][] = [];
  const preconditions = [
    ["ifGenerationMatch", target.ifGenerationMatch],
    ["ifGenerationNotMatch", target.ifGenerationNotMatch],
    ["ifMetagenerationMatch", target.ifMetagenerationMatch],
    ["ifMetagenerationNotMatch", target.ifMetagenerationNotMatch],
  ] as const;
  for (const [key, value] of preconditions) {
    const text = generation(`target.${key}`, value);
    if (text !== undefined) query.push([key, text]);
  }
  if (target.predefinedAcl !== undefined) {
    if (!predefinedAcls.has(target.predefinedAcl)) {
      throw new ValidationError("target.predefinedAcl", `expected one of ${[...predefinedAcls].join(", ")}, came ${describeValue(target.predefinedAcl)}`);
    }
    query.push(["predefinedAcl", target.predefinedAcl]);
  }
  if (target.kmsKeyName !== undefined) {
    if (typeof target.kmsKeyName !== "string" || target.kmsKeyName === "") {
      throw new ValidationError("target.kmsKeyName", `expected a key resource name, came ${describeValue(target.kmsKeyName)}`);
    }
    query.push(["kmsKeyName", target.kmsKeyName]);
  }
  if (target.userProject !== undefined) {
    if (typeof target.userProject !== "string" || target.userProject === "") {
      throw new ValidationError("target.userProject", `expected a project id, came ${describeValue(target.userProject)}`);
    }
    query.push(["userProject", target.userProject]);
  }
  return { kind: "json", endpoint, bucket: target.bucket, name: target.name, metadata: resolveMetadata(target.metadata), query };
}

function resolveTarget(target: unknown): ResolvedTarget {
  if (typeof target !== "object" || target === null) throw new ValidationError("target", `expected an object, came ${describeValue(target)}`);
  const kind = (target as { kind?: unknown }).kind;
  switch (kind) {
    case "json":
      return resolveJsonTarget(target as JsonApiTarget);
    case "signed-url": {
      const t = target as { url?: unknown; contentType?: unknown };
      const url = absoluteHttpUrl("target.url", t.url);
      if (t.contentType === undefined) return { kind, url };
      return { kind, url, contentType: headerValue("target.contentType", t.contentType) };
    }
    case "session": {
      const t = target as { sessionUri?: unknown };
      return { kind, sessionUri: absoluteHttpUrl("target.sessionUri", t.sessionUri) };
    }
    default:
      throw new ValidationError("target.kind", `expected "json", "signed-url" or "session", came ${describeValue(kind)}`);
  }
}

function resolveRetry(retry: unknown): ResolvedRetry {
  if (retry !== undefined && (typeof retry !== "object" || retry === null)) {
    throw new ValidationError("retry", `expected an object, came ${describeValue(retry)}`);
  }
  const r = (retry ?? {}) as Record<string, unknown>;
  const initialDelayMs = r.initialDelayMs === undefined ? 1000 : finiteNumber("retry.initialDelayMs", r.initialDelayMs, 0);
  const maxDelayMs = r.maxDelayMs === undefined ? 32_000 : finiteNumber("retry.maxDelayMs", r.maxDelayMs, 0);
  if (maxDelayMs < initialDelayMs) {
    throw new ValidationError("retry.maxDelayMs", `expected at least initialDelayMs (${initialDelayMs}), came ${maxDelayMs}`);
  }
  const multiplier = r.multiplier === undefined ? 2 : finiteNumber("retry.multiplier", r.multiplier, 1);
  const jitter = r.jitter ?? "equal";
  if (jitter !== "equal" && jitter !== "full" && jitter !== "none") {
    throw new ValidationError("retry.jitter", `expected "equal", "full" or "none", came ${describeValue(jitter)}`);
  }
  const maxAttempts = r.maxAttempts === undefined ? 10 : safeInteger("retry.maxAttempts", r.maxAttempts, 1);
  const deadlineMs = r.deadlineMs === undefined ? 300_000 : finiteNumber("retry.deadlineMs", r.deadlineMs, 0, true);
  const idleTimeoutMs = r.idleTimeoutMs === undefined ? 60_000 : finiteNumber("retry.idleTimeoutMs", r.idleTimeoutMs, 0, true);
  return { initialDelayMs, maxDelayMs, multiplier, jitter, maxAttempts, deadlineMs, idleTimeoutMs };
}

function resolveCommonHeaders(options: UploadOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  if (options.extraHeaders !== undefined) {
    if (typeof options.extraHeaders !== "object" || options.extraHeaders === null) {
      throw new ValidationError("extraHeaders", `expected an object of strings, came ${describeValue(options.extraHeaders)}`);
    }
    for (const [name, value] of Object.entries(options.extraHeaders)) {
      const lower = name.toLowerCase();
      if (!headerName.test(name)) throw new ValidationError(`extraHeaders.${name}`, "expected an HTTP header name (token characters only)");
      if (reservedHeaders.has(lower)) {
        throw new ValidationError(`extraHeaders.${name}`, "expected a header the protocol does not own; core sets this one itself");
      }
      headers[lower] = headerValue(`extraHeaders.${name}`, value);
    }
  }
  if (options.userAgent !== undefined) headers["user-agent"] = headerValue("userAgent", options.userAgent);
  if (options.encryptionKey !== undefined) {
    const key = options.encryptionKey as { key?: unknown; sha256?: unknown } | null;
    if (typeof key !== "object" || key === null) throw new ValidationError("encryptionKey", `expected { key, sha256 }, came ${describeValue(key)}`);
    headers["x-goog-encryption-algorithm"] = "AES256";
    headers["x-goog-encryption-key"] = base64Of32Bytes("encryptionKey.key", key.key);
    headers["x-goog-encryption-key-sha256"] = base64Of32Bytes("encryptionKey.sha256", key.sha256);
  }
  return headers;
}

function resolveChecksums(options: UploadOptions): Pick<ResolvedOptions, "crc32c" | "md5" | "checksum"> {
  const provider = options.checksums ?? {};
  if (typeof provider !== "object" || provider === null) {
    throw new ValidationError("checksums", `expected a ChecksumProvider object, came ${describeValue(provider)}`);
  }
  const mode = options.checksum ?? (provider.crc32c !== undefined ? "crc32c" : "none");
  if (mode !== "crc32c" && mode !== "md5" && mode !== "both" && mode !== "none") {
    throw new ValidationError("checksum", `expected "crc32c", "md5", "both" or "none", came ${describeValue(mode)}`);
  }
  const wantsCrc = mode === "crc32c" || mode === "both";
  const wantsMd5 = mode === "md5" || mode === "both";
  if (wantsCrc && typeof provider.crc32c !== "function") {
    throw new ValidationError("checksums.crc32c", `checksum "${mode}" needs a CRC32C implementation, none was given`);
  }
  if (wantsMd5 && typeof provider.md5 !== "function") {
    throw new ValidationError("checksums.md5", `checksum "${mode}" needs an MD5 implementation, none was given`);
  }
  return {
    checksum: mode,
    ...(wantsCrc ? { crc32c: provider.crc32c } : {}),
    ...(wantsMd5 ? { md5: provider.md5 } : {}),
  };
}

/**
 * A short deterministic digest of what must not change between the process that wrote a checkpoint
 * and the one restoring it: where the object goes, whether CRC32C state is tracked, which encryption
 * key. Not a security measure (it is FNV-1a, 64 bits): it only catches resuming the wrong upload.
 */
export function fingerprintOf(target: ResolvedTarget, crc32c: boolean, keySha256: string | undefined): string {
  let identity: string;
  switch (target.kind) {
    case "json":
      identity = ["json", target.endpoint, target.bucket, target.name].join("\n");
      break;
    case "signed-url": {
      // A signed URL is re-signed over time; its path names the object, its query only authorises.
      const question = target.url.indexOf("?");
      identity = ["signed-url", question === -1 ? target.url : target.url.slice(0, question)].join("\n");
      break;
    }
    case "session":
      identity = ["session", target.sessionUri].join("\n");
      break;
  }
  const text = [identity, `crc32c:${crc32c ? 1 : 0}`, `key:${keySha256 ?? "-"}`].join("\n");
return fnv1a64(text);
}

/**
 * Validates `options` and fills in every default.
 *
 * @throws ValidationError naming the first field at fault.
 */
export function resolveOptions(options: UploadOptions): ResolvedOptions {
  if (typeof options !== "object" || options === null) throw new ValidationError("options", `expected an object, came ${describeValue(options)}`);
  const target = resolveTarget(options.target);
  if (typeof options.random !== "function") {
    throw new ValidationError("random", `expected a function returning numbers in [0, 1) (core draws no randomness itself), came ${describeValue(options.random)}`);
  }
  if (options.wallClock !== undefined && typeof options.wallClock !== "function") {
    throw new ValidationError("wallClock", `expected a function returning epoch milliseconds, came ${describeValue(options.wallClock)}`);
  }
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (typeof chunkSize !== "number" || !Number.isSafeInteger(chunkSize) || chunkSize <= 0 || chunkSize % CHUNK_GRANULARITY !== 0) {
    throw new ValidationError("chunkSize", `expected a positive multiple of ${CHUNK_GRANULARITY} (256 KiB), came ${describeValue(chunkSize)}`);
  }
  const totalSize = options.totalSize === undefined ? undefined : safeInteger("totalSize", options.totalSize, 0);
  const origin = options.origin === undefined ? undefined : headerValue("origin", options.origin);
  const commonHeaders = resolveCommonHeaders(options);
  const retry = resolveRetry(options.retry);
  const checksums = resolveChecksums(options);
  const fingerprint = fingerprintOf(target, checksums.crc32c !== undefined, options.encryptionKey?.sha256);
  return {
    target,
    random: options.random,
    commonHeaders,
    chunkSize,
    retry,
    fingerprint,
    ...checksums,
    ...(origin === undefined ? {} : { origin }),
    ...(options.wallClock === undefined ? {} : { wallClock: options.wallClock }),
    ...(totalSize === undefined ? {} : { totalSize }),
  };
}
