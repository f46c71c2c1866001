/**
 * What the fetch and XMLHttpRequest transports share: body joining, header handling, auth headers,
 * response reading under a size limit. One home for each, so both transports behave alike.
 */
import { type AuthHeaderSource, mergeHeaders, redact, redactUrl, TransportError, type TransportRequest } from "@resumable-gcs/core";

/**
 * The body as one buffer for an HTTP client that takes one: the single view itself (no copy), or
 * one copy of all views. Undefined for an empty body on a method without one.
 */
export function joinBody(request: TransportRequest): Uint8Array | undefined {
  const { body, bodyLength, method } = request;
  if (bodyLength === 0) return method === "PUT" || method === "POST" ? new Uint8Array(0) : undefined;
  if (body.length === 1) return body[0]!;
  const joined = new Uint8Array(bodyLength);
  let at = 0;
  for (const view of body) {
    joined.set(view, at);
    at += view.byteLength;
  }
  if (at !== bodyLength) throw new TransportError("network", `request body views hold ${at} bytes, but bodyLength says ${bodyLength}`);
  return joined;
}

/**
 * The body as a stream over the request's own views, without a copy, for the runtimes whose fetch
 * streams a request body and still sends the `Content-Length` it is given (see
 * {@link streamsBodiesWithLength}). A `Uint8Array` body costs two copies there: fetch's own (the
 * spec's "copy of the bytes held") and a second when fetch clones the request for its redirect
 * handling (a byte-stream tee); together they cost more than the upload's own work. Undefined for
 * an empty body (sent as one empty buffer, as {@link joinBody} does).
 */
export function streamBody(request: TransportRequest): ReadableStream<Uint8Array> | undefined {
  if (request.bodyLength === 0) return undefined;
  const views = request.body;
  let next = 0;
  let sent = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const view = views[next];
        if (view === undefined) {
          if (sent !== request.bodyLength) controller.error(new TransportError("network", `request body views hold ${sent} bytes, but bodyLength says ${request.bodyLength}`));
          else controller.close();
          return;
        }
        next += 1;
        sent += view.byteLength;
        controller.enqueue(view);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * True in Node and Bun: their fetch sends a streamed body with the `Content-Length` header the
 * caller sets, which the protocol requires on every chunk. Deno's sends such a body chunked (the
 * length dropped), a page needs HTTP/2 to stream one at all, and workerd is not known to keep it:
 * those get one buffer.
 */
export function streamsBodiesWithLength(): boolean {
  const global = globalThis as { process?: { versions?: { node?: unknown; deno?: unknown } }; Deno?: unknown; navigator?: { userAgent?: unknown } };
  const versions = global.process?.versions;
  return typeof versions?.node === "string" && versions.deno === undefined && global.Deno === undefined && global.navigator?.userAgent !== "Cloudflare-Workers" && !inBrowserContext();
}

/** "PUT https://host/path?upload_id=…": how a request is named in messages (never the secret). */
export function describeRequest(request: TransportRequest): string {
  return `${request.method} ${redactUrl(request.url)}`;
}

/**
 * Headers a page may not set (the browser sets them, and XMLHttpRequest logs an error for each
 * attempt); the HTTP clients compute `content-length` from the body themselves.
 */
const CLIENT_MANAGED = new Set(["content-length", "host", "connection", "keep-alive", "transfer-encoding"]);
const BROWSER_FORBIDDEN = new Set([...CLIENT_MANAGED, "origin", "referer", "user-agent", "cookie", "accept-encoding", "date", "expect", "te", "trailer", "upgrade", "via"]);

/**
 * The request headers to hand the HTTP client: the request's own plus the auth source's when the
 * layer asked for credentials. An auth source failure rejects with kind `auth`.
 */
export async function requestHeaders(
  request: TransportRequest,
  options: { readonly credentials: boolean; readonly refreshCredentials?: boolean | undefined },
  auth: AuthHeaderSource | undefined,
  inBrowser: boolean,
): Promise<Record<string, string>> {
  let headers: Record<string, string> = { ...request.headers };
  if (options.credentials && auth !== undefined) {
    try {
      if (options.refreshCredentials === true && auth.refresh !== undefined) await auth.refresh();
      headers = mergeHeaders(headers, await auth.getRequestHeaders(request.url));
    } catch (error) {
      // The provider's error is not kept as the cause (it may hold the token or its config): its reason, redacted, is.
      throw new TransportError("auth", `the access token provider failed: ${reasonOf(error)}`);
    }
  }
  const drop = inBrowser ? BROWSER_FORBIDDEN : CLIENT_MANAGED;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (!drop.has(name.toLowerCase())) out[name.toLowerCase()] = value;
  return out;
}

/** Response headers as the contract wants them: lower-case names, repeated values joined with ", ". */
export function headersToRecord(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  // Headers iterates lower-case names with repeated values already joined by ", ".
  headers.forEach((value, name) => {
    out[name.toLowerCase()] = value;
  });
  return out;
}

/** Parses XMLHttpRequest's getAllResponseHeaders() into the same shape. */
export function parseRawHeaders(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of raw.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    out[name] = name in out ? `${out[name]}, ${value}` : value;
  }
  return out;
}

/** Whether this code runs where the browser's fetch rules apply (a page or a browser worker). */
export function inBrowserContext(): boolean {
  const global = globalThis as { document?: unknown; WorkerGlobalScope?: unknown; location?: unknown };
  return typeof global.document === "object" || (typeof global.WorkerGlobalScope === "function" && typeof global.location === "object");
}

/** The "response too large" error, the same for both transports. */
export function tooLargeError(describe: string, limit: number): TransportError {
  return new TransportError("truncated", `${describe}: the response body exceeds ${limit} bytes`, { tooLarge: true });
}

/**
 * A failure's reason for a message, redacted: runtimes put the full request URL (with its
 * upload_id) in fetch errors, and a cause's code (ECONNREFUSED) says more than "fetch failed".
 */
export function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = errorCode(error).code;
  return redact(code === undefined || message.includes(code) ? message : `${message}: ${code}`);
}

/** The system error code of `error` or its cause (undici nests it), as TransportError options. */
export function errorCode(error: unknown): { code?: string } {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return { code };
  }
  return {};
}
