/**
 * The boundary between the protocol engine and the network: Transport contract, version 2.
 *
 * A transport performs exactly one HTTP exchange per call and hands back whatever status came, 3xx
 * included. It never retries, never interprets a status, and knows nothing of GCS beyond adding
 * auth headers when it is told to (`credentials: true`); every decision about what a response means
 * belongs to the core state machine, and every decision about where credentials may go belongs to
 * the upload layer's trust rules. That is what lets one conformance suite hold every transport
 * (gaxios, node:http, fetch, XHR) to the same behaviour.
 *
 * What changed from version 1: `specificationVersion` and `capabilities` on the transport; the send
 * options carry `credentials`, `refreshCredentials` and `maxResponseBytes`; a rejection is always a
 * {@link TransportError} with a `kind`; redirects are described as "every status is returned".
 */

/** The version of this contract a transport implements; the driver refuses any other. */
export const TRANSPORT_SPECIFICATION_VERSION = 2;

/**
 * The largest response body a transport must accept before giving up: 1 MiB. Protocol bodies are
 * small JSON (an object resource, an error), so anything larger is a hostile or broken server, and
 * reading it whole would let that server grow this process's memory.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * The minimal abort signal core speaks. A real `AbortSignal` satisfies it; core implements it itself
 * because it may not reach for runtime globals. Transports that need a real `AbortSignal` bridge it.
 */
export interface AbortSignalLike {
  /** True once the request must stop. */
  readonly aborted: boolean;
  /** Why it was aborted (an `UploadError`, a caller's reason), when known. */
  readonly reason?: unknown;
  /** Registers `listener` to run once when the signal aborts. */
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  /** Removes a listener added with `addEventListener`. */
  removeEventListener(type: "abort", listener: () => void): void;
}

/** The HTTP methods the upload protocols use (GET: XML multipart list-parts, object metadata). */
export type HttpMethod = "POST" | "PUT" | "DELETE" | "GET";

/**
 * One HTTP request, fully described. Header names are lower-case.
 *
 * The body is a list of views onto the caller's own buffers (core never copies a chunk to build it);
 * a transport writes them in order, or joins them once if its HTTP client insists on one buffer.
 */
export interface TransportRequest {
  /** HTTP method. */
  readonly method: HttpMethod;
  /** Absolute URL, including the query string. A session URI is a secret: never log it in full. */
  readonly url: string;
  /** Request headers, names lower-case. `content-length` is always present when there is a body. */
  readonly headers: Readonly<Record<string, string>>;
  /** The body as byte views in order; empty for a request without a body. */
  readonly body: readonly Uint8Array[];
  /** The sum of the body views' lengths. */
  readonly bodyLength: number;
}

/** What a transport can observe, declared up front so the driver can adapt its timers. */
export interface TransportCapabilities {
  /**
   * True when the transport calls `onUploadProgress` as body bytes leave. When false (fetch cannot
   * observe an upload), the driver gives each request a stall deadline that grows with its body
   * length instead (see `MIN_UPLOAD_THROUGHPUT` in the driver).
   */
  readonly uploadProgress: boolean;
}

/** Per-call options a driver hands a transport. */
export interface TransportSendOptions {
  /** Aborting it must abandon the exchange promptly and reject with kind `aborted`. */
  readonly signal: AbortSignalLike;
  /**
   * Called as body bytes leave (cumulative count); only called when `capabilities.uploadProgress`.
   * The driver re-arms its stall timer on each call.
   */
  readonly onUploadProgress?: (bytesSent: number) => void;
  /**
   * Attach credentials (auth headers) to this request. Decided by the upload layer's trust rules
   * (only the configured endpoint's origin, only over https unless allowed), never by the transport.
   */
  readonly credentials: boolean;
  /** Ask the auth source to refresh before this request (set on the one retry after a first 401). */
  readonly refreshCredentials?: boolean;
  /**
   * Reject with kind `truncated` and `tooLarge: true` once the response body exceeds this many bytes
   * (usually {@link DEFAULT_MAX_RESPONSE_BYTES}); stop reading at that point.
   */
  readonly maxResponseBytes: number;
}

/** A complete HTTP response. Header names are lower-case. */
export interface TransportResponse {
  /** HTTP status code, whatever it is: every status comes back, 3xx included. */
  readonly status: number;
  /** Response headers, names lower-case; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** The whole response body as text (JSON, XML or empty in these protocols). */
  readonly body: string;
}

/**
 * Performs one HTTP exchange.
 *
 * The promise resolves only when the whole response (status, headers, complete body) has arrived.
 * It rejects, always with a {@link TransportError}, when the exchange did not complete: a refused or
 * reset connection, a body shorter than its `content-length` or longer than `maxResponseBytes`, an
 * abort, an auth source that failed. A rejection tells core "outcome unknown" (or, for `auth`, "no
 * credentials"); it is never used for an HTTP status.
 */
export interface Transport {
  /** The contract version implemented: {@link TRANSPORT_SPECIFICATION_VERSION}. */
  readonly specificationVersion: 2;
  /** What the transport can observe. */
  readonly capabilities: TransportCapabilities;
  /**
   * Sends `request` and resolves with the complete response. Every HTTP status comes back as a
   * response, 3xx included: a 308 without `Location` and a 302 pointing elsewhere are returned, not
   * followed. A fetch-based transport keeps fetch's default redirect mode (a 308 without `Location`
   * reads fine); it never uses `redirect: "manual"`, which gives browsers an opaque status 0.
   */
  send(request: TransportRequest, options: TransportSendOptions): Promise<TransportResponse>;
  /** Releases what the transport opened (agents, sockets). Idempotent. */
  close?(): void | Promise<void>;
}

/**
 * Why an exchange did not complete.
 *
 * | kind | meaning |
 * | --- | --- |
 * | `network` | connection refused/reset, DNS failure, a socket error before a complete response |
 * | `timeout` | the transport's own time limit fired (the driver's stall timer is reported as `timeout` too) |
 * | `aborted` | the send options' signal aborted |
 * | `truncated` | the response started but was cut short, or exceeded `maxResponseBytes` (`tooLarge`) |
 * | `auth` | the auth source could not produce credentials (no ADC, missing key file): not retried |
 */
export type TransportErrorKind = "network" | "timeout" | "aborted" | "truncated" | "auth";

const transportErrorKinds: ReadonlySet<string> = new Set<TransportErrorKind>(["network", "timeout", "aborted", "truncated", "auth"]);

/** Optional details of a {@link TransportError}. */
export interface TransportErrorOptions {
  /** The underlying error. Keep it only if it carries no secret (HTTP clients' errors hold the request config). */
  readonly cause?: unknown;
  /** The system or client error code (`ECONNRESET`, `ECONNREFUSED`, `ABORT_ERR`, ...). */
  readonly code?: string;
  /** Set with kind `truncated` when the body exceeded `maxResponseBytes`. */
  readonly tooLarge?: boolean;
}

/**
 * The only thing a transport rejects with. The message must already be redacted (see `redact`):
 * no token, no upload id, no signature.
 */
export class TransportError extends Error {
  /** What happened (see {@link TransportErrorKind}). */
  readonly kind: TransportErrorKind;
  /** The system or client error code, when known. */
  readonly code?: string;
  /** True when the response body exceeded `maxResponseBytes`. */
  readonly tooLarge?: boolean;

  /**
   * @param kind - what happened.
   * @param message - a redacted description (method, redacted URL, reason).
   * @param options - cause, code, tooLarge.
   * @throws TypeError when `kind` is not a {@link TransportErrorKind}: a typo must not become "network".
   */
  constructor(kind: TransportErrorKind, message: string, options: TransportErrorOptions = {}) {
    if (!transportErrorKinds.has(kind)) throw new TypeError(`TransportError: unknown kind ${JSON.stringify(kind)}`);
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TransportError";
    this.kind = kind;
    if (options.code !== undefined) this.code = options.code;
    if (options.tooLarge === true) this.tooLarge = true;
  }
}

/** The part of a WHATWG `Headers` object core relies on (core compiles without DOM types). */
export interface HeadersLike {
  /** Calls `callback` for every header. */
  forEach(callback: (value: string, name: string) => void): void;
}

/**
 * Anything that produces auth headers: every google-auth-library client (`GoogleAuth`, `AuthClient`),
 * or a web token provider wrapped by {@link bearerTokenSource}.
 */
export interface AuthHeaderSource {
  /** Headers to add (typically `authorization`, maybe `x-goog-user-project`). Rejects when no credentials can be had. */
  getRequestHeaders(url?: string): Promise<HeadersLike | Record<string, string>>;
  /** Drops cached credentials so the next `getRequestHeaders` fetches fresh ones (after a 401). */
  refresh?(): Promise<void>;
}

/**
 * An {@link AuthHeaderSource} from a function that returns an OAuth access token (a browser app's
 * token endpoint, a secret manager). The function is called for every request that carries
 * credentials, so it decides its own caching; `refresh()` is a no-op because each call is fresh.
 *
 * @example
 * ```ts
 * const auth = bearerTokenSource(async () => (await fetch("/api/gcs-token")).text());
 * ```
 */
export function bearerTokenSource(getToken: () => Promise<string> | string): AuthHeaderSource {
  if (typeof getToken !== "function") throw new TypeError("bearerTokenSource: expected a function returning a token");
  return {
    async getRequestHeaders(): Promise<Record<string, string>> {
      const token = await getToken();
      if (typeof token !== "string" || token === "" || /[\r\n]/.test(token)) {
        throw new Error("the token provider returned no usable token (expected a non-empty string without line breaks)");
      }
      return { authorization: `Bearer ${token}` };
    },
    refresh(): Promise<void> {
      return Promise.resolve();
    },
  };
}

function isHeadersLike(value: unknown): value is HeadersLike {
  return typeof (value as { forEach?: unknown }).forEach === "function";
}

/**
 * Merges two header sets into a fresh record with lower-case names; on a clash `extra` wins. The one
 * header merge every transport uses (request headers + auth headers, + user agent).
 */
export function mergeHeaders(base: Readonly<Record<string, string>>, extra: HeadersLike | Readonly<Record<string, string>>): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) merged[name.toLowerCase()] = value;
  if (isHeadersLike(extra)) {
    extra.forEach((value, name) => {
      merged[name.toLowerCase()] = value;
    });
  } else {
    for (const [name, value] of Object.entries(extra)) merged[name.toLowerCase()] = value;
  }
  return merged;
}
