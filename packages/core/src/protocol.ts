/**
 * The wire format of the resumable-upload protocol (docs/protocol.md, session start to cancel): how each request is
 * written and how each response is read. No decisions live here; the machine makes them. Keeping the
 * bytes-on-the-wire apart lets every header be asserted in one place and read top-down.
 */
import { encodeBase64, decodeBase64 } from "./base64.js";
import { describeValue } from "./describe.js";
import { UploadError, ValidationError, redactSessionUri } from "./errors.js";
import type { TransportFailure } from "./machine-actions.js";
import type { ResolvedJsonTarget, ResolvedOptions, ResolvedTarget } from "./resolve-options.js";
import { isTransientFailure, type GiveUp, type RetryPolicyOptions } from "./retry-policy.js";
import type { TransportRequest, TransportResponse } from "./transport.js";
import { encodeUtf8 } from "./utf8.js";

/**
 * The object resource GCS returns once the object is final (JSON API body; for the XML API, built
 * from the `x-goog-*` response headers). Fields GCS sends beyond these are kept as they came.
 */
export interface ObjectResource {
  /** Object name. */
  readonly name?: string;
  /** Bucket name. */
  readonly bucket?: string;
  /** Size in bytes, as a decimal string (int64). */
  readonly size?: string;
  /** The object's generation, a decimal string. */
  readonly generation?: string;
  /** The object's metageneration, a decimal string. */
  readonly metageneration?: string;
  /** CRC32C, base64 of the 4 big-endian bytes. */
  readonly crc32c?: string;
  /** MD5, base64 (absent for composite objects and some encryption modes). */
  readonly md5Hash?: string;
  /** Content type. */
  readonly contentType?: string;
  /** Any other field of the resource. */
  readonly [field: string]: unknown;
}

/** Statuses a DELETE of the session may answer to mean "the session is gone". */
export const cancelledStatuses: ReadonlySet<number> = new Set([499, 204, 200, 404, 410]);

function withCommon(options: ResolvedOptions, headers: Record<string, string>): Record<string, string> {
  // Common headers first so that the protocol's own always win (resolveOptions already refuses
  // overlaps; the order is a second guard).
  return { ...options.commonHeaders, ...headers };
}

const metadataFields = [
  "contentType",
  "contentEncoding",
  "contentDisposition",
  "contentLanguage",
  "cacheControl",
  "customTime",
  "storageClass",
  "temporaryHold",
  "eventBasedHold",
  "crc32c",
  "md5Hash",
  "metadata",
] as const;

/** The object resource JSON sent when a JSON API session starts, as UTF-8 bytes. */
export function startBody(target: ResolvedJsonTarget): Uint8Array {
  const resource: Record<string, unknown> = { name: target.name };
  for (const field of metadataFields) {
    const value = target.metadata[field];
    if (value !== undefined) resource[field] = value;
  }
  return encodeUtf8(JSON.stringify(resource));
}

/** The request that creates a session: JSON API POST, or signed-URL POST with `x-goog-resumable: start`. */
export function startRequest(options: ResolvedOptions, totalSize: number | undefined): TransportRequest {
  const target = options.target;
  if (target.kind === "json") {
    const query = [
      "uploadType=resumable",
      `name=${encodeURIComponent(target.name)}`,
      ...target.query.map(([key, value]) => `${key}=${encodeURIComponent(value)}`),
    ].join("&");
    const body = startBody(target);
    const headers: Record<string, string> = {
      "content-type": "application/json; charset=UTF-8",
      "content-length": String(body.length),
    };
    if (target.metadata.contentType !== undefined) headers["x-upload-content-type"] = target.metadata.contentType;
    if (totalSize !== undefined) headers["x-upload-content-length"] = String(totalSize);
    if (options.origin !== undefined) headers.origin = options.origin;
    return {
      method: "POST",
      url: `${target.endpoint}/upload/storage/v1/b/${encodeURIComponent(target.bucket)}/o?${query}`,
      headers: withCommon(options, headers),
      body: [body],
      bodyLength: body.length,
    };
  }
  if (target.kind === "signed-url") {
    const headers: Record<string, string> = { "x-goog-resumable": "start", "content-length": "0" };
    if (target.contentType !== undefined) headers["content-type"] = target.contentType;
    if (options.origin !== undefined) headers.origin = options.origin;
    return { method: "POST", url: target.url, headers: withCommon(options, headers), body: [], bodyLength: 0 };
  }
  throw new Error("startRequest: a session target has no start request");
}

/** What a chunk PUT carries (see {@link chunkRequest}). */
export interface ChunkFields {
  /** Stream offset of the first byte carried. */
  readonly from: number;
  /** Stream offset just past the last byte carried; `from === to` for the empty finalize. */
  readonly to: number;
  /** Views of bytes [from, to). */
  readonly body: readonly Uint8Array[];
  /** The total size, stated when known (it makes the request final when `to` reaches it). */
  readonly total: number | undefined;
  /** The X-Goog-Hash value, only on the finalizing request. */
  readonly hash: string | undefined;
}

/** A chunk PUT carrying bytes [from, to) of the stream, or an empty finalizing PUT when from === to. */
export function chunkRequest(options: ResolvedOptions, sessionUri: string, chunk: ChunkFields): TransportRequest {
  const { from, to, total, hash } = chunk;
  const range = from === to ? `bytes */${total ?? "*"}` : `bytes ${from}-${to - 1}/${total ?? "*"}`;
  const headers: Record<string, string> = { "content-length": String(to - from), "content-range": range };
  if (hash !== undefined) headers["x-goog-hash"] = hash;
  return { method: "PUT", url: sessionUri, headers: withCommon(options, headers), body: chunk.body, bodyLength: to - from };
}

/** The status query: an empty PUT asking how many bytes the server holds. */
export function queryRequest(options: ResolvedOptions, sessionUri: string, total: number | undefined): TransportRequest {
  const headers = { "content-length": "0", "content-range": `bytes */${total ?? "*"}` };
  return { method: "PUT", url: sessionUri, headers: withCommon(options, headers), body: [], bodyLength: 0 };
}

/** The cancellation: DELETE of the session URI (answered 499). */
export function cancelRequest(options: ResolvedOptions, sessionUri: string): TransportRequest {
  return { method: "DELETE", url: sessionUri, headers: withCommon(options, { "content-length": "0" }), body: [], bodyLength: 0 };
}

/** The value of an X-Goog-Hash header for the given digests. */
export function googHashValue(crc32c: Uint8Array | undefined, md5: Uint8Array | undefined): string | undefined {
  const parts: string[] = [];
  if (crc32c !== undefined) parts.push(`crc32c=${encodeBase64(crc32c)}`);
  if (md5 !== undefined) parts.push(`md5=${encodeBase64(md5)}`);
  return parts.length === 0 ? undefined : parts.join(",");
}

/**
 * The number of bytes a 308's `Range` header says are persisted: no header means 0, `bytes=0-N`
 * means N+1. Anything else is malformed: `undefined`.
 */
export function persistedFromRange(range: string | undefined): number | undefined {
  if (range === undefined || range.trim() === "") return 0;
  const match = /^\s*bytes=0-(\d{1,16})\s*$/.exec(range);
  if (match === null) return undefined;
  const last = Number(match[1]);
  return Number.isSafeInteger(last + 1) ? last + 1 : undefined;
}

/** The server's own message from an error body: `{ error: { message } }`, `{ error: "..." }`, or the text. */
export function serverMessageOf(body: string): string | undefined {
  const text = body.trim();
  if (text === "") return undefined;
  if (text.startsWith("{")) {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed === "object" && parsed !== null) {
        const error = (parsed as { error?: unknown }).error;
        if (typeof error === "string") return error;
        if (typeof error === "object" && error !== null) {
          const message = (error as { message?: unknown }).message;
          if (typeof message === "string") return message;
        }
        const message = (parsed as { message?: unknown }).message;
        if (typeof message === "string") return message;
      }
    } catch {
      // Not JSON after all: fall through to the raw text.
    }
  }
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

/** Splits an `x-goog-hash` header (`crc32c=...,md5=...`, possibly repeated and joined) into its parts. */
export function parseGoogHash(header: string | undefined): { crc32c?: string; md5?: string } {
  const out: { crc32c?: string; md5?: string } = {};
  if (header === undefined) return out;
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    const key = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (key === "crc32c") out.crc32c = value;
    else if (key === "md5") out.md5 = value;
  }
  return out;
}

/**
 * The object resource a 200/201 carries: the JSON body, or for the XML API (empty body) the
 * `x-goog-*` headers.
 */
export type ObjectReading =
  | { readonly kind: "object"; readonly object: ObjectResource }
  /** The body begins as a JSON object but is cut short: the message may have lost its end (outcome unknown). */
  | { readonly kind: "incomplete"; readonly problem: string }
  /** The answer is not an object resource at all. */
  | { readonly kind: "invalid"; readonly problem: string };

/** Reads the object resource of a 200/201 (see {@link ObjectReading}). */
export function readObject(response: TransportResponse): ObjectReading {
  const text = response.body.trim();
  if (text !== "") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // A cut JSON object (even in a complete HTTP message whose Content-Length matched) says nothing
      // about whether the object was committed; anything else was never an object resource.
      return text.startsWith("{")
        ? { kind: "incomplete", problem: `expected the object resource as JSON, came ${text.length} characters of JSON cut short` }
        : { kind: "invalid", problem: `expected the object resource as JSON, came ${text.length} characters that are not JSON` };
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return { kind: "invalid", problem: "expected the object resource as a JSON object, came another JSON value" };
    }
    return { kind: "object", object: parsed as ObjectResource };
  }
  const headers = response.headers;
  const hash = parseGoogHash(headers["x-goog-hash"]);
  const object: Record<string, unknown> = {};
  if (headers["x-goog-stored-content-length"] !== undefined) object.size = headers["x-goog-stored-content-length"].trim();
  if (headers["x-goog-generation"] !== undefined) object.generation = headers["x-goog-generation"].trim();
  if (headers["x-goog-metageneration"] !== undefined) object.metageneration = headers["x-goog-metageneration"].trim();
  if (hash.crc32c !== undefined) object.crc32c = hash.crc32c;
  if (hash.md5 !== undefined) object.md5Hash = hash.md5;
  if (Object.keys(object).length === 0) return { kind: "invalid", problem: "expected the object resource (a JSON body or x-goog-* headers), came an empty response" };
  return { kind: "object", object };
}

/** {@link readObject}'s answer as the object, or a string saying what was wrong (cut or not an object). */
export function objectOf(response: TransportResponse): ObjectResource | string {
  const reading = readObject(response);
  return reading.kind === "object" ? reading.object : reading.problem;
}

/** A final object, checked against the target: its size as a number, when stated. */
export type FinalObject =
  | { readonly kind: "object"; readonly object: ObjectResource; readonly size: number | undefined }
  | { readonly kind: "incomplete"; readonly problem: string }
  | { readonly kind: "invalid"; readonly problem: string };

/**
 * Reads and checks the object resource of a final answer: the size must be a decimal string (and
 * stated at all on the JSON API), and on the JSON API `bucket`/`name`, when stated, must be the
 * target's: an object of another name is not the upload's object.
 */
export function finalObjectOf(response: TransportResponse, target: ResolvedTarget): FinalObject {
  const reading = readObject(response);
  if (reading.kind !== "object") return reading;
  const object = reading.object;
  let size: number | undefined;
  if (object.size !== undefined) {
    size = typeof object.size === "string" && /^\d{1,16}$/.test(object.size) ? Number(object.size) : Number.NaN;
    if (!Number.isSafeInteger(size)) return { kind: "invalid", problem: `expected the object's size as a decimal string, came ${JSON.stringify(object.size)}` };
  } else if (target.kind === "json") {
    return { kind: "invalid", problem: "expected the object resource to state its size, came none" };
  }
  if (target.kind === "json") {
    for (const field of ["bucket", "name"] as const) {
      const value = object[field];
      if (value !== undefined && value !== target[field]) {
        return { kind: "invalid", problem: `expected the object's ${field} to be ${JSON.stringify(target[field])} (the upload's target), came ${JSON.stringify(value)}` };
      }
    }
  }
  return { kind: "object", object, size };
}

/** The `protocol-violation` for a 200/201 session start without a usable `Location`. */
export function missingLocationError(request: TransportRequest, response: TransportResponse): UploadError {
  const came = response.headers.location === undefined ? "none" : "a Location that is not an absolute URL";
  return new UploadError("protocol-violation", `${describeRequest(request)}: expected ${response.status} with a Location header holding the session URI, came ${came}`, {
    status: response.status,
  });
}

/** The session URI a start answer's `Location` names, when it is an absolute http(s) URL. */
export function sessionLocationOf(response: TransportResponse): string | undefined {
  const location = response.headers.location?.trim();
  return location !== undefined && /^https?:\/\/\S+$/i.test(location) ? location : undefined;
}

/** True when two base64 texts encode the same bytes (tolerates formatting; false when either is malformed). */
export function sameBase64(a: string, b: Uint8Array): boolean {
  const decoded = decodeBase64(a.trim());
  if (decoded?.length !== b.length) return false;
  for (let i = 0; i < b.length; i++) if (decoded[i] !== b[i]) return false;
  return true;
}

/** What a request was, for messages: never the full session URI. */
export function describeRequest(request: TransportRequest): string {
  const range = request.headers["content-range"];
  return `${request.method} ${redactSessionUri(request.url)}${range === undefined ? "" : ` (${range})`}`;
}

/** What {@link errorForStatus} needs to know about the refused request. */
export interface RefusalContext {
  /** The session-creating request, where 404 means "no such bucket", not "session gone". */
  readonly forStart?: boolean;
  /** The refused request carried X-Goog-Hash (a 400 then may be the checksum check). */
  readonly carriedHash?: boolean;
  /** The session involved (only its redacted id reaches the error). */
  readonly sessionUri?: string | undefined;
}

/** The typed error for a definitive (non-transient) HTTP refusal. */
export function errorForStatus(request: TransportRequest, response: TransportResponse, context: RefusalContext = {}): UploadError {
  const { forStart = false, carriedHash = false, sessionUri } = context;
  const status = response.status;
  const serverMessage = serverMessageOf(response.body);
  const details = {
    status,
    ...(serverMessage === undefined ? {} : { serverMessage }),
    ...(sessionUri === undefined ? {} : { sessionUri }),
  };
  const came = `came ${status}${serverMessage === undefined ? "" : ` "${serverMessage}"`}`;
  const what = describeRequest(request);
  if (!forStart && (status === 404 || status === 410 || status === 499)) {
    return new UploadError(
      "session-expired",
      `${what}: the session no longer exists (expired after about a week, or was cancelled); the upload must restart from byte 0; ${came}`,
      details,
    );
  }
  if (status === 401 || status === 403) {
    return new UploadError("unauthorized", `${what}: expected the credentials to be accepted, ${came}`, details);
  }
  if (status === 412) {
    return new UploadError("precondition-failed", `${what}: a generation/metageneration precondition did not hold, ${came}`, details);
  }
  if (status === 400 && carriedHash && serverMessage !== undefined && /checksum|hash|crc32c|md5/i.test(serverMessage)) {
    return new UploadError("checksum-mismatch", `${what}: GCS refused to finalize because the object's checksum differs from X-Goog-Hash, ${came}`, details);
  }
  if (status >= 400 && status < 500) {
    return new UploadError("bad-request", `${what}: expected the request to be accepted, ${came}`, details);
  }
  const expected = forStart ? "200/201 with a Location header" : "308, 200 or 201";
  return new UploadError("protocol-violation", `${what}: expected ${expected}, ${came}`, details);
}

function sessionDetails(sessionUri: string | undefined): { sessionUri?: string } {
  return sessionUri === undefined ? {} : { sessionUri };
}

/** The `transient` error for a 408/429/5xx answer: the request may be tried again. */
export function transientStatusError(request: TransportRequest, response: TransportResponse, sessionUri: string | undefined): UploadError {
  const serverMessage = serverMessageOf(response.body);
  const came = `came ${response.status}${serverMessage === undefined ? "" : ` "${serverMessage}"`}`;
  return new UploadError("transient", `${describeRequest(request)}: expected a definitive answer, ${came} (transient)`, {
    status: response.status,
    ...(serverMessage === undefined ? {} : { serverMessage }),
    ...sessionDetails(sessionUri),
  });
}

/**
 * The error for a request that did not complete: `transient` (outcome unknown), or `auth` when the
 * transport could not obtain credentials, carrying the auth source's reason.
 */
export function transportFailureError(request: TransportRequest, failure: TransportFailure, context: { readonly idleTimeoutMs: number; readonly sessionUri: string | undefined }): UploadError {
  let text: string;
  switch (failure.kind) {
    case "network":
      text = "the connection failed before a complete response arrived (outcome unknown)";
      break;
    case "timeout":
      text = `no progress for ${context.idleTimeoutMs} ms: the request stalled and was abandoned (outcome unknown)`;
      break;
    case "aborted":
      text = "the request was aborted before it completed (outcome unknown)";
      break;
    case "truncated":
      text = "the response was cut short (outcome unknown)";
      break;
    case "auth": {
      const cause = failure.cause;
      const reason = cause instanceof Error ? cause.message : typeof cause === "string" ? cause : "no reason given";
      text = `no credentials could be obtained for this request (not retried): ${reason}`;
      break;
    }
  }
  return new UploadError(isTransientFailure(failure.kind) ? "transient" : "auth", `${describeRequest(request)}: ${text}`, { cause: failure.cause, ...sessionDetails(context.sessionUri) });
}

/** The error that ends an upload when the retry policy gives up; the last failure is its cause. */
export function giveUpError(
  decision: GiveUp,
  last: UploadError,
  context: { readonly options: RetryPolicyOptions; readonly persisted: number; readonly sessionUri: string | undefined },
): UploadError {
  const { attempt, elapsedMs, delayMs } = decision;
  const why =
    decision.giveUp === "retries-exhausted"
      ? `gave up after ${attempt} failed attempt${attempt === 1 ? "" : "s"} in a row without progress (persisted offset ${context.persisted}, maxAttempts ${context.options.maxAttempts})`
      : `no progress for ${elapsedMs} ms; the next retry (in ${delayMs} ms) would begin after the ${context.options.deadlineMs} ms deadline (persisted offset ${context.persisted})`;
  return new UploadError(decision.giveUp, `${why}; last error: ${last.message}`, {
    cause: last,
    ...(last.status === undefined ? {} : { status: last.status }),
    ...(last.serverMessage === undefined ? {} : { serverMessage: last.serverMessage }),
    ...sessionDetails(context.sessionUri),
  });
}

const failureKinds: ReadonlySet<unknown> = new Set(["network", "timeout", "aborted", "truncated", "auth"]);

/**
 * Checks what a caller reports as a response before the machine reads it.
 *
 * @throws ValidationError when it is not `{ status: number, headers: object, body: string }`.
 */
export function assertTransportResponse(response: TransportResponse): void {
  const r = response as Partial<TransportResponse> | null;
  if (typeof r !== "object" || r === null || typeof r.status !== "number" || typeof r.headers !== "object" || r.headers === null || typeof r.body !== "string") {
    throw new ValidationError("onResponse(response)", `expected { status: number, headers: object, body: string }, came ${describeValue(response)}`);
  }
}

/**
 * Checks what a caller reports as a failed request before the machine reads it.
 *
 * @throws ValidationError when `kind` is not one of the transport failure kinds.
 */
export function assertTransportFailure(failure: TransportFailure): void {
  if (typeof failure !== "object" || failure === null || !failureKinds.has(failure.kind)) {
    throw new ValidationError("onError(failure)", `expected { kind: "network" | "timeout" | "aborted" | "truncated" | "auth" }, came ${describeValue(failure)}`);
  }
}
