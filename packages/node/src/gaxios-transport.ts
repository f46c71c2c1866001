import type { Agent } from "node:http";
import type { Readable } from "node:stream";
import { Gaxios } from "gaxios";
import {
  TRANSPORT_SPECIFICATION_VERSION,
  TransportError,
  redact,
  redactUrl,
  type AuthHeaderSource,
  type Transport,
  type TransportRequest,
  type TransportResponse,
  type TransportSendOptions,
} from "@resumable-gcs/core";
import { errorCode, errorMessage } from "./errors.js";
import { requestHeaders } from "./request-headers.js";
import { readLimited } from "./read-limited.js";
import { ViewBody, viewFetch } from "./view-fetch.js";

/** Options for {@link createGaxiosTransport}. */
export interface GaxiosTransportOptions {
  /** Where auth headers come from, for requests sent with `credentials: true`; omit to send none. */
  auth?: AuthHeaderSource | undefined;
  /**
   * The gaxios instance to use; a private one by default. Its interceptors, proxy settings and
   * agents apply; if its defaults name a `fetchImplementation`, that one carries the requests
   * (the body then arrives as a Readable), otherwise this transport's own fetch on node:http does.
   */
  gaxios?: Gaxios;
  /** An http(s) agent; the one gaxios picks (a proxy agent from its settings or the environment) or Node's global agent by default. */
  agent?: Agent;
  /** Hard limit for one exchange in ms; off by default (the driver's stall timer guards progress). */
  timeoutMs?: number;
  /** Sent as `user-agent`. */
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
 * The default Node transport (Transport contract v2): one HTTP exchange per call on gaxios. Every
 * status comes back as a response; gaxios's own retries, status validation and redirects are off,
 * because core owns those decisions. gaxios prepares each request (headers, interceptors, proxy and
 * mTLS agents from its settings and the environment); the bytes then go out through a small fetch
 * implementation on node:http that writes core's body views to the socket as they are, where
 * gaxios's default fetch (node-fetch) would carry them through several stream layers. It holds no
 * connections of its own (the agent gaxios picks, or Node's global agent), so there is nothing to
 * close.
 *
 * @example
 * ```ts
 * const transport = createGaxiosTransport({ auth: new GoogleAuth({ scopes: STORAGE_SCOPE }) });
 * ```
 */
export function createGaxiosTransport(options: GaxiosTransportOptions = {}): Transport {
  const gaxios = options.gaxios ?? new Gaxios();
  const { auth, agent, timeoutMs, userAgent } = options;
  // A caller's own fetch implementation on its gaxios instance wins (gaxios reads the request's first).
  const fetchImplementation = gaxios.defaults.fetchImplementation === undefined ? (viewFetch as unknown as typeof fetch) : undefined;

  async function send(request: TransportRequest, sendOptions: TransportSendOptions): Promise<TransportResponse> {
    const { signal, onUploadProgress, maxResponseBytes } = sendOptions;
    const where = `${request.method} ${redactUrl(request.url)}`;
    if (signal.aborted) throw new TransportError("aborted", `${where}: aborted before it started`, { code: "ABORT_ERR" });
    const headers = await requestHeaders(request, sendOptions, auth, userAgent);
    if (signal.aborted) throw new TransportError("aborted", `${where}: aborted before it started`, { code: "ABORT_ERR" });
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    let headersArrived = false;
    try {
      const response = await gaxios.request<Readable | string>({
        url: request.url,
        method: request.method,
        headers,
        data: request.bodyLength > 0 ? new ViewBody(request.body, onUploadProgress) : undefined,
        // The body is read here, with a size limit: a hostile server cannot grow memory.
        responseType: "stream",
        validateStatus: () => true,
        retry: false,
        // Node's fetch would follow a 3xx that carries a Location; the contract returns every status.
        // ("manual" is harmless in Node, which exposes the real status; browsers' opaque 0 is the
        // reason a browser fetch transport must not use it.)
        redirect: "manual",
        signal: controller.signal,
        ...(agent === undefined ? {} : { agent }),
        ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
        errorRedactor: false,
        ...(fetchImplementation === undefined ? {} : { fetchImplementation }),
      });
      headersArrived = true;
      const body = typeof response.data === "string" ? response.data : response.data == null ? "" : await readLimited(response.data, maxResponseBytes, where);
      return { status: response.status, headers: headersToRecord(response.headers), body };
    } catch (error) {
      if (error instanceof TransportError) throw error;
      // Never rethrow the client's error: its config holds the session URI and the bearer token.
      const code = controller.signal.aborted ? "ABORT_ERR" : (errorCode(error) ?? "ERR_TRANSPORT");
      const reason = redact(errorMessage(error).replaceAll(request.url, redactUrl(request.url)));
      const timedOut = code === "TimeoutError" || code === "ETIMEDOUT";
      const kind = controller.signal.aborted && !timedOut ? "aborted" : timedOut ? "timeout" : headersArrived ? "truncated" : "network";
      throw new TransportError(kind, `${where} did not complete (${code})${reason ? `: ${reason}` : ""}`, { code });
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  return { specificationVersion: TRANSPORT_SPECIFICATION_VERSION, capabilities: { uploadProgress: true }, send };
}
