import type { Agent } from "node:http";
import { Gaxios } from "gaxios";
import type { Transport, TransportRequest, TransportResponse, TransportSendOptions } from "@resumable-gcs/core";
import { bodyStream } from "./body-stream.js";
import { TransportError, describeUrl, errorCode } from "./errors.js";

/** Anything that can produce auth headers for a URL: every google-auth-library client and `GoogleAuth`. */
export interface AuthHeaderSource {
  /** Headers to add (typically `authorization`, maybe `x-goog-user-project`). */
  getRequestHeaders(url?: string | URL): Promise<Headers | Record<string, string>>;
}

/** Options for {@link createGaxiosTransport}. */
export interface GaxiosTransportOptions {
  /** Where auth headers come from; omit (or `undefined`) to send none, as for an emulator. */
  auth?: AuthHeaderSource | undefined;
  /** The gaxios instance to use; a private one by default. */
  gaxios?: Gaxios;
  /** An http(s) agent; Node's global agents (keep-alive since Node 19) by default. */
  agent?: Agent;
  /** Hard limit for one exchange in ms; off by default (the driver's stall timer guards progress). */
  timeoutMs?: number;
  /** Sent as `user-agent` and in `x-goog-api-client`. */
  userAgent?: string;
}

function headersToRecord(headers: Headers): Record<string, string> {
  const record: Record<string, string> = {};
  headers.forEach((value, name) => {
    record[name.toLowerCase()] = value;
  });
  return record;
}

/**
 * The default Node transport: one HTTP exchange per call on gaxios, with auth headers from
 * google-auth-library. Every status comes back to core as a response; gaxios's own retries,
 * redirects and status validation are all off, because core owns those decisions.
 *
 * @example
 * ```ts
 * const transport = createGaxiosTransport({ auth: new GoogleAuth({ scopes: STORAGE_SCOPE }) });
 * ```
 */
export function createGaxiosTransport(options: GaxiosTransportOptions = {}): Transport {
  const gaxios = options.gaxios ?? new Gaxios();
  const { auth, agent, timeoutMs, userAgent } = options;

  async function send(request: TransportRequest, sendOptions: TransportSendOptions): Promise<TransportResponse> {
    const { signal, onUploadProgress } = sendOptions;
    if (signal.aborted) throw new TransportError("request aborted before it started", "ABORT_ERR");
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      const headers = new Headers(request.headers);
      if (userAgent !== undefined) headers.set("user-agent", userAgent);
      if (auth !== undefined) {
        const authHeaders = await auth.getRequestHeaders(request.url);
        const entries = authHeaders instanceof Headers ? authHeaders.entries() : Object.entries(authHeaders);
        for (const [name, value] of entries) headers.set(name, value);
      }
      const response = await gaxios.request<string>({
        url: request.url,
        method: request.method,
        headers,
        data: request.bodyLength > 0 ? bodyStream(request.body, onUploadProgress) : undefined,
        responseType: "text",
        validateStatus: () => true,
        retry: false,
        // GCS answers chunks with 308 "Resume Incomplete", which fetch-style clients read as a
        // redirect; "manual" hands every 3xx back untouched.
        redirect: "manual",
        signal: controller.signal,
        ...(agent === undefined ? {} : { agent }),
        ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
        errorRedactor: false,
      });
      return {
        status: response.status,
        headers: headersToRecord(response.headers),
        body: typeof response.data === "string" ? response.data : "",
      };
    } catch (error) {
      // Never rethrow the client's error: its config holds the session URI and the bearer token.
      const code = controller.signal.aborted ? "ABORT_ERR" : (errorCode(error) ?? "ERR_TRANSPORT");
      const reason = error instanceof Error ? error.message.replaceAll(request.url, describeUrl(request.url)) : "";
      throw new TransportError(
        `${request.method} ${describeUrl(request.url)} did not complete (${code})${reason ? `: ${redactMessage(reason)}` : ""}`,
        code,
      );
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  return { send };
}

/** Removes anything that looks like an upload id or bearer token from a client's error message. */
export function redactMessage(message: string): string {
  return message
    .replace(/upload_id=[^&\s"']+/g, "upload_id=<redacted>")
    .replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/g, "Bearer <redacted>");
}
