/**
 * Why a transport exchange did not complete, stripped of everything that could carry a secret.
 *
 * HTTP clients attach their whole request config (URL with the session's `upload_id`, the
 * `Authorization` header) to their errors; keeping one as `cause` would put a bearer capability in
 * every logged stack. So transports rethrow this instead, with only the error code and a message
 * that names no URL.
 */
export class TransportError extends Error {
  /** The system or client error code (`ECONNRESET`, `ECONNREFUSED`, `ABORT_ERR`, ...), when known. */
  readonly code: string | undefined;

  constructor(message: string, code?: string) {
    super(message);
    this.name = "TransportError";
    this.code = code;
  }
}

/** Best-effort system error code of an HTTP client's error or its causes (undici nests them). */
export function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === "object"; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A URL's origin and path with the query (where `upload_id` lives) cut, for messages. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}${parsed.search ? "?…" : ""}`;
  } catch {
    return "(unparseable URL)";
  }
}
