/**
 * One error family for everything that can end an upload or refuse a call.
 *
 * Rules:
 * - Caller misuse (write after end, a non-byte chunk, a bad option) throws at once, synchronously:
 *   {@link UsageError} and {@link ValidationError}. Nothing about the upload changes.
 * - Protocol and network problems never throw out of the machine: they end it with a `failed`
 *   action carrying an {@link UploadError}, so the caller always learns of them in the same place.
 * - A session URI is a bearer capability (anyone holding it can write the object for a week), so an
 *   error never carries one in full: messages go through {@link redactSessionUri} and `sessionId` is
 *   the redacted upload id.
 */

/**
 * The stable machine-readable reason an upload failed or a call was refused.
 *
 * | code | meaning |
 * | --- | --- |
 * | `invalid-argument` | an option or argument is malformed (thrown, as {@link ValidationError}) |
 * | `usage` | the call is not allowed now, e.g. write after end (thrown, as {@link UsageError}) |
 * | `session-expired` | the session is gone (404/410): the upload must restart from byte 0 |
 * | `precondition-failed` | a generation/metageneration precondition did not hold (412) |
 * | `unauthorized` | credentials were refused: a 403, or a 401 again after one refresh |
 * | `auth` | no credentials could be obtained (the auth source failed: no ADC, missing key file); not retried |
 * | `bad-request` | the server refused the request as malformed (400, other 4xx) |
 * | `checksum-mismatch` | the object's CRC32C/MD5 (or size, for a session found final) differs from the bytes sent |
 * | `checksum-unverifiable` | a checksum was asked for, but the final object states no usable `crc32c`/`md5Hash` |
 * | `data-lost` | the server holds fewer bytes than the oldest byte still retained to resend |
 * | `protocol-violation` | the server answered something the protocol does not allow |
 * | `transient` | one failed exchange (408/429/5xx/network/timeout); seen in `retry` events and as a `cause` |
 * | `retries-exhausted` | `maxAttempts` consecutive failures without progress |
 * | `deadline-exceeded` | no progress for `deadlineMs` (default 5 minutes) while retrying |
 * | `cancelled` | the caller cancelled the upload (the session was deleted) |
 * | `aborted` | the caller aborted the upload (the session is kept: resume from the checkpoint) |
 * | `invalid-checkpoint` | a checkpoint is corrupt, hand-edited, or does not belong to these options/this source |
 * | `untrusted-session-uri` | a session URI (option, `Location`, checkpoint) is on an origin the upload does not trust; raised by the upload layer before anything is sent |
 * | `source-not-replayable` | the upload must restart from byte 0 but the source cannot be read again; raised by adapters and the CLI (the machine never restarts a session itself) |
 */
export type UploadErrorCode =
  | "invalid-argument"
  | "usage"
  | "session-expired"
  | "precondition-failed"
  | "unauthorized"
  | "auth"
  | "bad-request"
  | "checksum-mismatch"
  | "checksum-unverifiable"
  | "data-lost"
  | "protocol-violation"
  | "transient"
  | "retries-exhausted"
  | "deadline-exceeded"
  | "cancelled"
  | "aborted"
  | "invalid-checkpoint"
  | "untrusted-session-uri"
  | "source-not-replayable";

/** Every code, for exhaustive tests and for adapters that map codes to their own vocabulary. */
export const uploadErrorCodes: readonly UploadErrorCode[] = [
  "invalid-argument",
  "usage",
  "session-expired",
  "precondition-failed",
  "unauthorized",
  "auth",
  "bad-request",
  "checksum-mismatch",
  "checksum-unverifiable",
  "data-lost",
  "protocol-violation",
  "transient",
  "retries-exhausted",
  "deadline-exceeded",
  "cancelled",
  "aborted",
  "invalid-checkpoint",
  "untrusted-session-uri",
  "source-not-replayable",
];

/**
 * Whether resuming the same session later (from its checkpoint) may succeed, by code. The failure
 * was about the moment (network, patience), not about the request or the session itself.
 */
const retryableByDefault: ReadonlySet<UploadErrorCode> = new Set<UploadErrorCode>([
  "transient",
  "retries-exhausted",
  "deadline-exceeded",
  "aborted",
]);

/** Optional details of an {@link UploadError}. */
export interface UploadErrorOptions {
  /** Overrides the default (see {@link UploadError.retryable}). */
  readonly retryable?: boolean;
  /** The HTTP status that caused the error, when one did. */
  readonly status?: number;
  /** The server's own message (from its JSON error body, or its text). */
  readonly serverMessage?: string;
  /** The session URI involved; only its redacted upload id is kept. */
  readonly sessionUri?: string;
  /** The underlying error or reason. */
  readonly cause?: unknown;
}

/** The error every upload failure and every refused call is. Switch on `code`, not on the message. */
export class UploadError extends Error {
  /** The stable reason (see {@link UploadErrorCode}). */
  readonly code: UploadErrorCode;
  /**
   * True when resuming the same session later may succeed (network trouble, patience ran out, the
   * caller aborted); false when it cannot as-is (the request, the credentials or the session are bad).
   */
  readonly retryable: boolean;
  /** The HTTP status behind the error, when there was one. */
  readonly status?: number;
  /** The server's message, when it sent one. */
  readonly serverMessage?: string;
  /** The session's upload id, redacted (`AbCd…yZ`), when a session existed. */
  readonly sessionId?: string;

  /**
   * @param code - the stable reason.
   * @param message - what was expected and what came; must not contain a session URI unredacted.
   * @param options - status, server message, session, cause, retryable override.
   */
  constructor(code: UploadErrorCode, message: string, options: UploadErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "UploadError";
    this.code = code;
    this.retryable = options.retryable ?? retryableByDefault.has(code);
    if (options.status !== undefined) this.status = options.status;
    if (options.serverMessage !== undefined) this.serverMessage = options.serverMessage;
    if (options.sessionUri !== undefined) {
      const id = uploadIdOf(options.sessionUri);
      if (id !== undefined) this.sessionId = redactUploadId(id);
    }
  }
}

/** Thrown at once when a call is not allowed in the machine's current state (code `usage`). */
export class UsageError extends UploadError {
  /** @param message - what the caller did and what the state allows. */
  constructor(message: string, options: UploadErrorOptions = {}) {
    super("usage", message, options);
    this.name = "UsageError";
  }
}

/** Thrown at once when an option or argument is malformed (code `invalid-argument`). */
export class ValidationError extends UploadError {
  /** The option or argument at fault, as a path (`target.bucket`, `retry.maxDelayMs`, `write(bytes)`). */
  readonly field: string;

  /**
   * @param field - the option path at fault.
   * @param message - what was expected and what came.
   */
  constructor(field: string, message: string, options: UploadErrorOptions = {}) {
    super("invalid-argument", `${field}: ${message}`, options);
    this.name = "ValidationError";
    this.field = field;
  }
}

/** Query parameters whose values are capabilities and never appear in full in messages. */
const secretParams = new Set(["upload_id", "x-goog-signature", "signature", "x-goog-credential", "googleaccessid"]);

/**
 * A short, non-reversible form of an upload id: its first 4 and last 2 characters (`AbCd…yZ`),
 * enough to tell sessions apart in logs without letting anyone use the session.
 */
export function redactUploadId(id: string): string {
  if (id.length <= 8) return "…";
  return `${id.slice(0, 4)}…${id.slice(-2)}`;
}

/**
 * A session URI (or signed URL) safe to log: scheme, host, path and harmless query parameters are
 * kept; the `upload_id` value is shortened with {@link redactUploadId}, and signature/credential
 * parameters are replaced by `…`.
 *
 * @example
 * redactSessionUri("https://storage.googleapis.com/upload/storage/v1/b/b/o?uploadType=resumable&upload_id=ADPycdvR7x9Zq")
 * // "https://storage.googleapis.com/upload/storage/v1/b/b/o?uploadType=resumable&upload_id=ADPy…Zq"
 */
export function redactSessionUri(uri: string): string {
  const hash = uri.indexOf("#");
  const withoutFragment = hash === -1 ? uri : uri.slice(0, hash);
  const question = withoutFragment.indexOf("?");
  if (question === -1) return withoutFragment;
  const base = withoutFragment.slice(0, question);
  const params = withoutFragment
    .slice(question + 1)
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      if (eq === -1) return pair;
      const key = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const lower = key.toLowerCase();
      if (lower === "upload_id") return `${key}=${redactUploadId(value)}`;
      if (secretParams.has(lower)) return `${key}=…`;
      return pair;
    });
  return `${base}?${params.join("&")}`;
}

/** The raw `upload_id` query value of a session URI, when it has one. */
export function uploadIdOf(uri: string): string | undefined {
  const question = uri.indexOf("?");
  if (question === -1) return undefined;
  for (const pair of uri.slice(question + 1).split(/[&#]/)) {
    if (pair.startsWith("upload_id=")) return pair.slice("upload_id=".length);
  }
  return undefined;
}
