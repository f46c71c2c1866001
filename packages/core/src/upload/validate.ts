/**
 * Option validation for the upload layer: one pass over the flat option set that refuses, with a
 * {@link ValidationError} naming the option, every unknown name and every value outside its set.
 * Values the engine validates itself (bucket naming rules, header values, retry ranges) are checked
 * there, and its field names are mapped back to the flat names here, so the caller always reads the
 * option they wrote.
 */
import { decodeBase64 } from "../base64.js";
import { ValidationError } from "../errors.js";
import { assertMultipartApplicable, wantsMultipart } from "../multipart/applicability.js";
import { MAX_PARALLELISM } from "../multipart/multipart-options.js";
import { MAX_PART_SIZE, MIN_PART_SIZE } from "../multipart/part-schedule.js";
import type { ChecksumMode, GenerationNumber, RetryOptions } from "../options.js";
import type { AbortSignalLike } from "../transport.js";
import { isCheckpointStore, type CheckpointStore } from "./checkpoint-store.js";
import { MAX_CHUNK_SIZE, uploadOptionNames, type UploadMetadata, type UploadOptions } from "./options.js";
import { parseHttpUrl } from "./url.js";

/** The target, as validated. */
export type ValidatedTarget =
  | {
      readonly kind: "json";
      readonly bucket: string;
      readonly name: string;
      readonly contentType?: string;
      readonly metadata?: UploadMetadata;
      readonly ifGenerationMatch?: GenerationNumber;
      readonly ifGenerationNotMatch?: GenerationNumber;
      readonly ifMetagenerationMatch?: GenerationNumber;
      readonly ifMetagenerationNotMatch?: GenerationNumber;
      readonly predefinedAcl?: NonNullable<UploadOptions["predefinedAcl"]>;
      readonly kmsKeyName?: string;
      readonly userProject?: string;
    }
  | { readonly kind: "session"; readonly sessionUri: string }
  | { readonly kind: "signed-url"; readonly url: string; readonly contentType?: string };

/** The options after validation: typed, defaults for the layer's own choices filled in. */
export interface ValidatedOptions {
  readonly target: ValidatedTarget;
  readonly chunkSize?: number;
  readonly totalSize?: number;
  readonly checksum: ChecksumMode;
  readonly retry: RetryOptions;
  readonly encryptionKey?: Uint8Array;
  readonly checkpoint?: unknown;
  readonly checkpointStore?: CheckpointStore;
  readonly signal?: AbortSignalLike;
  readonly onAbort: "cancel" | "keep";
  readonly apiEndpoint?: string;
  readonly universeDomain?: string;
  readonly allowInsecureHttp: boolean;
  readonly authOverHttp: boolean;
  readonly trustedSessionOrigins: readonly string[];
  readonly origin?: string;
  readonly extraHeaders?: Readonly<Record<string, string>>;
  readonly userAgent?: string;
  readonly gzip: boolean;
  /** `auto` (default) or `never`: whether a source that ends inside the first chunk goes as one request. */
  readonly singleRequest: "auto" | "never";
  /** Present when the caller asked for the XML multipart upload (`parallelism` or `partSize`). */
  readonly multipart?: { readonly parallelism?: number; readonly partSize?: number };
}

const checksumModes: readonly ChecksumMode[] = ["crc32c", "md5", "both", "none"];
const abortPolicies = ["cancel", "keep"] as const;
const jitters = ["equal", "full", "none"] as const;
const predefinedAcls = ["authenticatedRead", "bucketOwnerFullControl", "bucketOwnerRead", "private", "projectPrivate", "publicRead"] as const;
const retryNames: readonly (keyof NonNullable<UploadOptions["retry"]>)[] = ["initialDelayMs", "maxDelayMs", "multiplier", "jitter", "maxAttempts", "deadlineMs"];
const metadataNames: readonly (keyof UploadMetadata)[] = [
  "cacheControl",
  "contentEncoding",
  "contentDisposition",
  "contentLanguage",
  "customTime",
  "storageClass",
  "temporaryHold",
  "eventBasedHold",
  "metadata",
  "crc32c",
  "md5Hash",
];
/** Options that describe a new object: only a JSON API upload creates one. */
const jsonOnly = [
  "metadata",
  "ifGenerationMatch",
  "ifGenerationNotMatch",
  "ifMetagenerationMatch",
  "ifMetagenerationNotMatch",
  "predefinedAcl",
  "kmsKeyName",
  "userProject",
] as const;

/** A short description of what came, for messages (never the value of a secret). */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`;
  switch (typeof value) {
    case "string":
      return value.length > 60 ? `a ${value.length}-character string` : JSON.stringify(value);
    case "number":
    case "boolean":
    case "bigint":
      return String(value);
    case "function":
      return "a function";
    case "undefined":
      return "undefined";
    case "symbol":
      return "a symbol";
    default: {
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      return typeof name === "string" && name !== "Object" ? `a ${name}` : "an object";
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new ValidationError(field, `expected one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, came ${describeValue(value)}`);
  }
  return value as T;
}

function text(field: string, value: unknown): string {
  if (typeof value !== "string" || value === "") throw new ValidationError(field, `expected a non-empty string, came ${describeValue(value)}`);
  return value;
}

function flag(field: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw new ValidationError(field, `expected true or false, came ${describeValue(value)}`);
  return value;
}

function integerIn(field: string, value: unknown, min: number, max: number, unit = ""): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ValidationError(field, `expected an integer from ${min} to ${max}${unit}, came ${describeValue(value)}`);
  }
  return value;
}

/**
 * The multipart options, checked: types and ranges first, then what the XML multipart upload
 * cannot honour (each refusal names the option; nothing is dropped silently).
 */
function validateMultipart(o: Record<string, unknown>): ValidatedOptions["multipart"] {
  if (!wantsMultipart(o)) return undefined;
  assertMultipartApplicable(o);
  const parallelism = o.parallelism === undefined ? undefined : integerIn("parallelism", o.parallelism, 1, MAX_PARALLELISM);
  const partSize = o.partSize === undefined ? undefined : integerIn("partSize", o.partSize, MIN_PART_SIZE, MAX_PART_SIZE, " bytes (5 MiB to 5 GiB)");
  if (o.chunkSize !== undefined) throw new ValidationError("chunkSize", "a multipart upload (parallelism/partSize) cuts parts of partSize, not chunks: give partSize instead");
  if (o.origin !== undefined) throw new ValidationError("origin", "origin is sent on a resumable session start (for browser CORS); a multipart upload has no session: drop it, or drop parallelism/partSize");
  return { ...(parallelism === undefined ? {} : { parallelism }), ...(partSize === undefined ? {} : { partSize }) };
}

function number(field: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new ValidationError(field, `expected a finite number, came ${describeValue(value)}`);
  return value;
}

/** Closest known name, for "did you mean" (edit distance ≤ 2). */
function suggestion(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

function refuseUnknown(field: string, given: Record<string, unknown>, known: readonly string[], hint?: (name: string) => string | undefined): void {
  for (const name of Object.keys(given)) {
    if (known.includes(name)) continue;
    const path = field === "" ? name : `${field}.${name}`;
    const extra = hint?.(name) ?? (suggestion(name, known) === undefined ? "" : `: did you mean ${suggestion(name, known)}?`);
    throw new ValidationError(path, `unknown option${extra}`);
  }
}

function nestedHint(name: string): string | undefined {
  if (name === "upload") return ": nested upload options are gone; give chunkSize, totalSize, retry, idleTimeoutMs... at the top level";
  if (name === "object") return ": nested object options are gone; give contentType, metadata, ifGenerationMatch... at the top level";
  if (name === "resumable") return ": every upload is resumable";
  return undefined;
}

function decodeKey(value: unknown): Uint8Array {
  let raw: Uint8Array | undefined;
  if (value instanceof Uint8Array) raw = value;
  else if (typeof value === "string") {
    raw = decodeBase64(value);
    if (raw === undefined) throw new ValidationError("encryptionKey", "expected 32 raw bytes or their base64; the string is not base64");
  } else throw new ValidationError("encryptionKey", `expected 32 raw bytes (Uint8Array) or their base64, came ${describeValue(value)}`);
  if (raw.byteLength !== 32) throw new ValidationError("encryptionKey", `expected 32 bytes (AES-256), came ${raw.byteLength}`);
  return Uint8Array.from(raw);
}

function isSignal(value: unknown): value is AbortSignalLike {
  if (typeof value !== "object" || value === null) return false;
  const signal = value as Record<string, unknown>;
  return typeof signal.aborted === "boolean" && typeof signal.addEventListener === "function" && typeof signal.removeEventListener === "function";
}

function trustedOrigins(value: unknown): string[] {
  if (!Array.isArray(value)) throw new ValidationError("trustedSessionOrigins", `expected an array of origins, came ${describeValue(value)}`);
  return value.map((entry: unknown, index) => {
    const parsed = parseHttpUrl(entry);
    if (parsed === undefined || parsed.path !== "/" || /[?#]/.test(entry as string)) {
      throw new ValidationError(`trustedSessionOrigins[${index}]`, `expected an origin such as https://uploads.example.com, came ${describeValue(entry)}`);
    }
    return parsed.origin;
  });
}

function validateMetadata(value: unknown): UploadMetadata {
  if (!isPlainObject(value)) throw new ValidationError("metadata", `expected an object of object-resource fields, came ${describeValue(value)}`);
  refuseUnknown("metadata", value, metadataNames, (name) =>
    name === "contentType" ? ": give contentType at the top level of the options" : undefined,
  );
  const custom = value.metadata;
  if (custom !== undefined) {
    if (!isPlainObject(custom)) throw new ValidationError("metadata.metadata", `expected an object of string values, came ${describeValue(custom)}`);
    for (const [key, entry] of Object.entries(custom)) {
      if (typeof entry !== "string") throw new ValidationError(`metadata.metadata.${key}`, `expected a string, came ${describeValue(entry)}`);
    }
  }
  return value;
}

/**
 * Validates the flat options. `extraOptions` are the adapter's own names (validated by it).
 *
 * @throws ValidationError naming the option at fault.
 */
export function validateUploadOptions(input: unknown, extraOptions: readonly string[] = []): ValidatedOptions {
  if (!isPlainObject(input)) throw new ValidationError("options", `expected an options object, came ${describeValue(input)}`);
  // An option set to undefined is an option not given (the spread-and-override idiom).
  const o = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));
  refuseUnknown("", o, [...uploadOptionNames, ...extraOptions], nestedHint);

  const given = (name: string): boolean => name in o;
  const targets = [given("bucket") || given("name") ? "bucket + name" : undefined, given("sessionUri") ? "sessionUri" : undefined, given("signedUrl") ? "signedUrl" : undefined].filter(
    (t) => t !== undefined,
  );
  if (targets.length !== 1) {
    throw new ValidationError(
      targets.length === 0 ? "bucket" : (targets[1] === "signedUrl" ? "signedUrl" : "sessionUri"),
      targets.length === 0 ? "give a target: bucket and name, sessionUri, or signedUrl" : `give exactly one target, came ${targets.join(" and ")}`,
    );
  }
  let target: ValidatedTarget;
  if (given("sessionUri") || given("signedUrl")) {
    for (const name of jsonOnly) if (given(name)) throw new ValidationError(name, "applies only to a JSON API upload (bucket + name): a session URI or signed URL already fixes the object");
    if (given("sessionUri")) {
      if (given("contentType")) throw new ValidationError("contentType", "a session URI's content type was fixed when it was created");
      target = { kind: "session", sessionUri: text("sessionUri", o.sessionUri) };
    } else {
      const contentType = given("contentType") ? text("contentType", o.contentType) : undefined;
      target = { kind: "signed-url", url: text("signedUrl", o.signedUrl), ...(contentType === undefined ? {} : { contentType }) };
    }
  } else {
    if (!given("bucket")) throw new ValidationError("bucket", "a JSON API upload needs both bucket and name");
    if (!given("name")) throw new ValidationError("name", "a JSON API upload needs both bucket and name");
    const json: Record<string, unknown> = { kind: "json", bucket: text("bucket", o.bucket), name: text("name", o.name) };
    if (given("contentType")) json.contentType = text("contentType", o.contentType);
    if (given("metadata")) json.metadata = validateMetadata(o.metadata);
    for (const name of ["ifGenerationMatch", "ifGenerationNotMatch", "ifMetagenerationMatch", "ifMetagenerationNotMatch"] as const) {
      if (!given(name)) continue;
      const value = o[name];
      if (typeof value !== "number" && typeof value !== "string") throw new ValidationError(name, `expected a generation number (or its decimal string), came ${describeValue(value)}`);
      json[name] = value;
    }
    if (given("predefinedAcl")) json.predefinedAcl = oneOf("predefinedAcl", o.predefinedAcl, predefinedAcls);
    if (given("kmsKeyName")) json.kmsKeyName = text("kmsKeyName", o.kmsKeyName);
    if (given("userProject")) json.userProject = text("userProject", o.userProject);
    target = json as ValidatedTarget;
  }

  let chunkSize: number | undefined;
  if (given("chunkSize")) {
    chunkSize = number("chunkSize", o.chunkSize);
    if (chunkSize > MAX_CHUNK_SIZE) throw new ValidationError("chunkSize", `at most ${MAX_CHUNK_SIZE} (512 MiB; memory is about two chunks), came ${chunkSize}`);
  }
  const totalSize = given("totalSize") ? number("totalSize", o.totalSize) : undefined;
  const retry: Record<string, unknown> = {};
  if (given("retry")) {
    if (!isPlainObject(o.retry)) throw new ValidationError("retry", `expected an object, came ${describeValue(o.retry)}`);
    refuseUnknown("retry", o.retry, retryNames, (name) => (name === "idleTimeoutMs" ? ": give idleTimeoutMs at the top level" : undefined));
    for (const [name, value] of Object.entries(o.retry)) {
      if (value === undefined) continue;
      retry[name] = name === "jitter" ? oneOf("retry.jitter", value, jitters) : number(`retry.${name}`, value);
    }
  }
  if (given("idleTimeoutMs")) retry.idleTimeoutMs = number("idleTimeoutMs", o.idleTimeoutMs);

  const checksum = given("checksum") ? oneOf("checksum", o.checksum, checksumModes) : "crc32c";
  const onAbort = given("onAbort") ? oneOf("onAbort", o.onAbort, abortPolicies) : "cancel";
  if (given("checkpointStore") && !isCheckpointStore(o.checkpointStore)) {
    throw new ValidationError("checkpointStore", `expected a CheckpointStore with load(), save() and clear(), came ${describeValue(o.checkpointStore)}`);
  }
  if (given("signal") && !isSignal(o.signal)) throw new ValidationError("signal", `expected an AbortSignal, came ${describeValue(o.signal)}`);
  if (given("extraHeaders")) {
    if (!isPlainObject(o.extraHeaders)) throw new ValidationError("extraHeaders", `expected an object of string values, came ${describeValue(o.extraHeaders)}`);
    for (const [name, value] of Object.entries(o.extraHeaders)) {
      if (typeof value !== "string") throw new ValidationError(`extraHeaders.${name}`, `expected a string, came ${describeValue(value)}`);
    }
  }
  const gzip = given("gzip") ? flag("gzip", o.gzip) : false;
  if (gzip) {
    if (target.kind !== "json") throw new ValidationError("gzip", "compression needs a JSON API upload (bucket + name), which sets contentEncoding: gzip");
    if (totalSize !== undefined) throw new ValidationError("gzip", "the compressed size cannot be known in advance: drop totalSize");
    if (given("checkpoint")) throw new ValidationError("gzip", "a compressed upload cannot resume from a checkpoint: its offsets count compressed bytes");
    const encoding = target.metadata?.contentEncoding;
    if (encoding !== undefined && encoding !== "gzip") throw new ValidationError("metadata.contentEncoding", `gzip: true stores gzip; came ${describeValue(encoding)}`);
  }

  const multipart = validateMultipart(o);
  const singleRequest = given("singleRequest") ? oneOf("singleRequest", o.singleRequest, ["auto", "never"] as const) : "auto";

  return {
    target,
    checksum,
    retry: retry,
    singleRequest,
    ...(multipart === undefined ? {} : { multipart }),
    onAbort,
    allowInsecureHttp: given("allowInsecureHttp") ? flag("allowInsecureHttp", o.allowInsecureHttp) : false,
    authOverHttp: given("authOverHttp") ? flag("authOverHttp", o.authOverHttp) : false,
    trustedSessionOrigins: given("trustedSessionOrigins") ? trustedOrigins(o.trustedSessionOrigins) : [],
    gzip,
    ...(chunkSize === undefined ? {} : { chunkSize }),
    ...(totalSize === undefined ? {} : { totalSize }),
    ...(given("encryptionKey") ? { encryptionKey: decodeKey(o.encryptionKey) } : {}),
    ...(given("checkpoint") ? { checkpoint: o.checkpoint } : {}),
    ...(given("checkpointStore") ? { checkpointStore: o.checkpointStore as CheckpointStore } : {}),
    ...(given("signal") ? { signal: o.signal as AbortSignalLike } : {}),
    ...(given("apiEndpoint") ? { apiEndpoint: text("apiEndpoint", o.apiEndpoint) } : {}),
    ...(given("universeDomain") ? { universeDomain: text("universeDomain", o.universeDomain) } : {}),
    ...(given("origin") ? { origin: text("origin", o.origin) } : {}),
    ...(given("extraHeaders") ? { extraHeaders: o.extraHeaders as Record<string, string> } : {}),
    ...(given("userAgent") ? { userAgent: text("userAgent", o.userAgent) } : {}),
  };
}

/**
 * Maps a field name the engine used (`target.bucket`, `target.metadata.contentType`, `target.url`,
 * `retry.idleTimeoutMs`) to the flat option the caller wrote.
 */
export function flatField(engineField: string): string {
  if (engineField === "target.metadata.contentType" || engineField === "target.contentType") return "contentType";
  if (engineField === "target.url") return "signedUrl";
  if (engineField === "retry.idleTimeoutMs") return "idleTimeoutMs";
  if (engineField.startsWith("encryptionKey")) return "encryptionKey";
  if (engineField.startsWith("target.")) return engineField.slice("target.".length);
  return engineField;
}

/** The same error, re-labelled with the flat option name (the message keeps the engine's reason). */
export function relabel(error: unknown): unknown {
  if (!(error instanceof ValidationError)) return error;
  const field = flatField(error.field);
  if (field === error.field) return error;
  const reason = error.message.startsWith(`${error.field}: `) ? error.message.slice(error.field.length + 2) : error.message;
  return new ValidationError(field, reason, { cause: error });
}
