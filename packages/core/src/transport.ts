/**
 * The boundary between the protocol engine and the network.
 *
 * A transport performs exactly one HTTP exchange per call. It never retries, never follows redirects,
 * never interprets a status code, and knows nothing of GCS beyond adding its own auth headers: every
 * decision about what a response means belongs to the core state machine. That is what lets one
 * conformance suite hold every transport (gaxios, node:http, fetch) to the same behaviour.
 */

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

/** The HTTP methods the resumable-upload protocol uses. */
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

/** Per-call options a driver hands a transport. */
export interface TransportSendOptions {
  /** Aborting it must abandon the exchange promptly and reject the returned promise. */
  readonly signal: AbortSignalLike;
  /**
   * Called as body bytes leave (cumulative count), when the transport can observe it. The driver
   * resets its stall timer on each call; a transport that cannot observe upload progress omits calls
   * and the stall timer then spans the whole exchange.
   */
  readonly onUploadProgress?: (bytesSent: number) => void;
}

/** A complete HTTP response. Header names are lower-case. */
export interface TransportResponse {
  /** HTTP status code, whatever it is: 3xx included (a transport never follows redirects). */
  readonly status: number;
  /** Response headers, names lower-case; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** The whole response body as text (it is JSON or empty in this protocol). */
  readonly body: string;
}

/**
 * Performs one HTTP exchange.
 *
 * The promise resolves only when the whole response (status, headers, complete body) has arrived.
 * It rejects when the exchange did not complete for any reason: a refused or reset connection, a body
 * shorter than its `content-length`, an abort. A rejection tells core "outcome unknown", which core
 * answers with a status query; it must never be used for an HTTP status.
 */
export interface Transport {
  /** Sends `request` and resolves with the complete response; rejects if the exchange did not complete. */
  send(request: TransportRequest, options: TransportSendOptions): Promise<TransportResponse>;
}
