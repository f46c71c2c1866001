/**
 * What the cases and the conformance server agree on: the routes, their query parameters, and the
 * record the server keeps of each request so a case can ask what really arrived (and whether the
 * connection was released). Runtime-neutral: types and constants only.
 */

/**
 * Where a conformance server listens, as plain JSON (a vitest `globalSetup` can `provide` it to
 * browser tests). Everything is on 127.0.0.1.
 */
export interface ConformanceServerInfo {
  /** The synthetic routes (statuses, resets, truncation, stalls, byte checks), e.g. `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** A second listener on another port, so another origin: the target of the redirect cases. */
  readonly otherOriginUrl: string;
  /** A running `@resumable-gcs/emulator`, for the cases that speak the real upload protocol. */
  readonly emulatorUrl: string;
  /** An address where nothing listens (connection refused). */
  readonly refusedUrl: string;
}

/** The key under which `setup` (from `./server`) provides the {@link ConformanceServerInfo} to vitest's `inject`. */
export const CONFORMANCE_SERVER_KEY = "resumableGcsTransportConformance";

/** The synthetic routes. */
export const routes = {
  /** Answers `status` (query) with the `h` headers (`Name:value`, repeatable) and `body` (default: a JSON error or object). */
  respond: "/respond",
  /** Reads the body and checks it against the pattern for `seed`; answers a {@link VerifyResult}. */
  verify: "/verify",
  /** Reads the body, then resets the connection: no response at all. */
  resetBefore: "/reset-before",
  /** Sends headers announcing 1024 bytes and 100 of them, then resets the connection. */
  resetMid: "/reset-mid",
  /** Sends headers announcing 1024 bytes and 100 of them, then closes the connection cleanly. */
  short: "/short",
  /** Streams pattern bytes until the client goes away (at most {@link ENDLESS_CAP_BYTES}); `declared=1` sends a content-length. */
  endless: "/endless",
  /** Holds the exchange: `stage=before-headers` (body read, no answer), `after-headers` (some body sent), `during-body` (stops reading the request). */
  stall: "/stall",
  /** A UTF-8 body written in pieces that split multi-byte characters. */
  utf8: "/utf8",
  /** Mixed-case and repeated response headers. */
  headers: "/headers",
  /** Resumes reading the request `id` held by a `during-body` stall (so the server can notice a closed connection). */
  release: "/release",
  /** The {@link RequestRecord} of request `id`. */
  record: "/record",
} as const;

/** The most `/endless` writes before it ends the response normally (so a transport without a limit resolves, and fails, instead of hanging). */
export const ENDLESS_CAP_BYTES = 40 * 1024 * 1024;

/** The body `/utf8` sends, as text. */
export const UTF8_TEXT = "naïve café ✓ — 日本語 🚀 Größe ½";

/** The text every `/short` and `/reset-mid` body starts with (100 bytes are sent of 1024 announced). */
export const PARTIAL_BODY_BYTES = 100;

/** What the server knows about one request (by its `id` query parameter). */
export interface RequestRecord {
  /** The request reached the server (its headers arrived). */
  readonly arrived: boolean;
  /** The method as received. */
  readonly method?: string;
  /** The request headers as received, names lower-case, repeated ones joined with ", ". */
  readonly headers?: Readonly<Record<string, string>>;
  /** Request body bytes received so far. */
  readonly bodyBytes: number;
  /** The whole request body arrived. */
  readonly bodyComplete: boolean;
  /** The server has written the response headers. */
  readonly responseStarted: boolean;
  /** Response body bytes the server wrote (handed to its socket). */
  readonly bytesWritten: number;
  /** The connection the request came on has closed. */
  readonly socketClosed: boolean;
}

/** The answer of `/verify`. */
export interface VerifyResult {
  /** Body bytes received. */
  readonly received: number;
  /** Body offset of the first byte that differed from the pattern, or -1. */
  readonly firstMismatch: number;
  /** The `content-length` request header, if any. */
  readonly contentLength?: string;
  /** The `transfer-encoding` request header, if any. */
  readonly transferEncoding?: string;
}
