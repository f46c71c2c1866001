/**
 * Telling a CORS refusal from a network failure or from "0 bytes persisted".
 *
 * A page may read only the response headers the bucket's CORS configuration exposes. Without
 * `Range` exposed, every 308 looks like "nothing persisted": an uploader that believed it would
 * resend forever or report data lost. GCS sends `X-GUploader-UploadID` on every upload response, so
 * when a response that must carry `Range`/`Location` shows no header beyond the CORS-safelisted
 * ones, the headers were hidden, not absent. A preflight that fails makes fetch/XHR fail exactly like a network
 * error; two probes tell them apart (see {@link probeCorsRefusal}).
 */
import { TransportError, type TransportRequest, type TransportResponse } from "@resumable-gcs/core";

/** The `code` of a {@link CorsError}. */
export const CORS_ERROR_CODE = "CORS";

/**
 * The browser refused a cross-origin exchange (preflight refused) or hid the headers the protocol
 * needs (`Range`, `Location`). Not transient: the bucket's CORS configuration must change (see the
 * README's CORS section). A {@link TransportError} of kind `network` with code `CORS`.
 */
export class CorsError extends TransportError {
  /** The page's origin, which the bucket's CORS configuration must list. */
  readonly origin: string;

  constructor(message: string, origin: string) {
    super("network", message, { code: CORS_ERROR_CODE });
    this.name = "CorsError";
    this.origin = origin;
  }
}

/** Whether `error` is a {@link CorsError} (or looks like one across module copies). */
export function isCorsError(error: unknown): error is CorsError {
  return error instanceof CorsError || (error instanceof Error && (error as { code?: unknown }).code === CORS_ERROR_CODE);
}

/** The page's origin, when this code runs in a page or a browser worker; undefined elsewhere. */
export function pageOrigin(): string | undefined {
  try {
    const origin = (globalThis as { location?: { origin?: unknown } }).location?.origin;
    return typeof origin === "string" && origin !== "null" ? origin : undefined;
  } catch {
    // Deno without --location throws on `location`: no page, no CORS.
    return undefined;
  }
}

/** The page origin when `url` is cross-origin from the page (so CORS rules apply), else undefined. */
export function crossOriginFrom(url: string): string | undefined {
  const origin = pageOrigin();
  if (origin === undefined) return undefined;
  return new URL(url, origin).origin === origin ? undefined : origin;
}

/** How long the reachability probe may take before the failure counts as a network one. */
const PROBE_TIMEOUT_MS = 5000;

const ADVICE =
  "the bucket's CORS configuration must list this origin, the methods POST, PUT, DELETE (and GET), and expose the response headers Range, Location, X-GUploader-UploadID, X-Goog-Hash, ETag (see the CORS section of @resumable-gcs/web's README)";

/** Response headers a page may always read (the Fetch standard's CORS-safelisted response-header names). */
const SAFELISTED_RESPONSE_HEADERS = new Set(["cache-control", "content-language", "content-length", "content-type", "expires", "last-modified", "pragma"]);

/** Whether the protocol needed a header that the browser may have hidden. */
function needsHeaders(request: TransportRequest, response: TransportResponse): boolean {
  if (response.status === 308) return true;
  const start = request.method === "POST" && (request.headers["x-goog-resumable"] === "start" || request.url.includes("uploadType=resumable"));
  return start && (response.status === 200 || response.status === 201);
}

/**
 * The CORS error for a cross-origin response whose protocol headers were hidden, or undefined when
 * the response is usable as it is.
 */
export function hiddenHeadersError(request: TransportRequest, response: TransportResponse, origin: string | undefined, describe: string): CorsError | undefined {
  if (origin === undefined || !needsHeaders(request, response)) return undefined;
  // Any header beyond the CORS-safelisted ones proves the server exposes headers to this page
  // (GCS always sends X-GUploader-UploadID); seeing only safelisted ones means they were hidden.
  const visible = Object.keys(response.headers).some((name) => !SAFELISTED_RESPONSE_HEADERS.has(name));
  if (visible) return undefined;
  return new CorsError(`CORS: the browser hid the response headers of ${describe} (status ${response.status}) from ${origin}: ${ADVICE}`, origin);
}

/**
 * After a cross-origin exchange failed without a response: a CORS error when the browser refuses
 * this URL but not the server, else undefined (a real network failure: reset, cut, refused).
 *
 * Two probes, because "the server is reachable" alone is true of a reset connection too:
 * 1. a `no-cors` GET of the origin root (an opaque answer proves the server is reachable);
 * 2. a CORS-mode status query to the same URL (the empty `PUT` that asks where an upload stands):
 *    idempotent on a session URI and harmless anywhere else. If it gets any answer, the browser
 *    lets the page talk to this URL, so the first failure was the network's; if it fails too, the
 *    browser is refusing it: CORS.
 */
export async function probeCorsRefusal(url: string, origin: string, describe: string, fetchImpl: typeof fetch = fetch): Promise<CorsError | undefined> {
  const target = new URL(url);
  const attempt = async (input: string, init: RequestInit): Promise<boolean> => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), PROBE_TIMEOUT_MS);
    try {
      const response = await fetchImpl(input, { ...init, signal: controller.signal });
      await response.body?.cancel().catch(() => undefined);
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  };
  if (!(await attempt(`${target.origin}/`, { mode: "no-cors", method: "GET" }))) return undefined;
  if (await attempt(url, { method: "PUT", headers: { "content-range": "bytes */*" }, body: new Uint8Array(0) })) return undefined;
  return new CorsError(`CORS: the browser refused ${describe} from ${origin} (the server is reachable, so the preflight or the response's CORS headers were refused): ${ADVICE}`, origin);
}
