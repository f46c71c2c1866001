/**
 * Which upload options the two engines of this folder can honour, for the upload layer to ask
 * before it picks one: options flat, as the layer takes them (`bucket`, `name`, `sessionUri`,
 * `signedUrl`, `parallelism`, `singleRequest`, …).
 *
 * - The multipart engine (`parallelism`) needs a bucket and object name: a session minted elsewhere
 *   or a signed resumable start has no XML multipart form. The XML API's complete request has no
 *   "generation does not match" preconditions, and a multipart object has no MD5 and cannot carry
 *   holds set at upload time. Each of these is refused with a {@link ValidationError} naming the
 *   option, before anything is sent: never silently dropped.
 * - The single-request engine applies to a bucket and object name unless the caller opted out
 *   (`singleRequest: "never"`); every other option travels as on the resumable start.
 */
import { ValidationError } from "../errors.js";

/** The flat options these checks read (a subset of the upload layer's). */
export interface EngineChoiceOptions {
  /** A session minted elsewhere: only the resumable path can continue it. */
  readonly sessionUri?: unknown;
  /** A signed resumable-start URL: only the resumable path can use it. */
  readonly signedUrl?: unknown;
  /** Parts in flight; given, it asks for the multipart engine. */
  readonly parallelism?: unknown;
  /** The part size; given, it asks for the multipart engine. */
  readonly partSize?: unknown;
  /** `"auto"` (default) or `"never"`: whether a source that ends inside the first chunk may go as one request. */
  readonly singleRequest?: unknown;
  /** A precondition the XML API's complete request cannot express (refused with multipart). */
  readonly ifGenerationNotMatch?: unknown;
  /** A precondition the XML API's complete request cannot express (refused with multipart). */
  readonly ifMetagenerationNotMatch?: unknown;
  /** The verification mode; `"md5"` alone is refused with multipart (such an object has no MD5). */
  readonly checksum?: unknown;
  /** Object metadata; holds and a known `md5Hash` have no multipart form. */
  readonly metadata?: { readonly temporaryHold?: unknown; readonly eventBasedHold?: unknown; readonly md5Hash?: unknown; readonly [field: string]: unknown } | undefined;
}

/** True when the options ask for the multipart engine (`parallelism` or `partSize` given). */
export function wantsMultipart(options: EngineChoiceOptions): boolean {
  return options.parallelism !== undefined || options.partSize !== undefined;
}

/**
 * Refuses, naming the option, what the XML multipart engine cannot honour. Call it when
 * {@link wantsMultipart} is true.
 *
 * @throws ValidationError naming the first option that cannot apply.
 */
export function assertMultipartApplicable(options: EngineChoiceOptions): void {
  const why = "the XML multipart upload (parallelism/partSize) needs a bucket and object name";
  if (options.sessionUri !== undefined) throw new ValidationError("sessionUri", `${why}; a session minted elsewhere can only be continued by the resumable path: drop parallelism`);
  if (options.signedUrl !== undefined) throw new ValidationError("signedUrl", `${why}; a signed resumable start has no multipart form: drop parallelism`);
  for (const field of ["ifGenerationNotMatch", "ifMetagenerationNotMatch"] as const) {
    if (options[field] !== undefined) {
      throw new ValidationError(field, "the XML API's complete request has only x-goog-if-generation-match and x-goog-if-metageneration-match: use the resumable path for this precondition");
    }
  }
  const metadata = options.metadata ?? {};
  for (const field of ["temporaryHold", "eventBasedHold"] as const) {
    if (metadata[field] !== undefined) throw new ValidationError(`metadata.${field}`, "the XML multipart API cannot place holds; set it on the object after the upload, or use the resumable path");
  }
  if (metadata.md5Hash !== undefined) throw new ValidationError("metadata.md5Hash", "an object built from a multipart upload has no MD5 for GCS to check; give crc32c instead, or use the resumable path");
  if (options.checksum === "md5") {
    throw new ValidationError("checksum", 'an object built from a multipart upload has no MD5, so "md5" alone would verify nothing end to end; use "both" or "crc32c"');
  }
}

/**
 * True when a source that ends before the first chunk is full may go as one JSON API multipart
 * request: a bucket/object target, and no `singleRequest: "never"`.
 *
 * @throws ValidationError when `singleRequest` is neither `"auto"` nor `"never"`.
 */
export function singleRequestApplies(options: EngineChoiceOptions): boolean {
  const mode = options.singleRequest ?? "auto";
  if (mode !== "auto" && mode !== "never") throw new ValidationError("singleRequest", `expected "auto" or "never", came ${JSON.stringify(mode) ?? typeof mode}`);
  return mode === "auto" && options.sessionUri === undefined && options.signedUrl === undefined;
}
