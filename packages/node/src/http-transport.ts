import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import {
  TRANSPORT_SPECIFICATION_VERSION,
  TransportError,
  redactUrl,
  type AuthHeaderSource,
  type Transport,
  type TransportErrorKind,
  type TransportRequest,
  type TransportResponse,
  type TransportSendOptions,
} from "@resumable-gcs/core";
import { errorCode } from "./errors.js";
import { requestHeaders } from "./request-headers.js";
import { writeViews } from "./write-views.js";

/** Options for {@link createHttpTransport}. */
export interface HttpTransportOptions {
  /** Where auth headers come from, for requests sent with `credentials: true`; omit to send none. */
  auth?: AuthHeaderSource | undefined;
  /** Agent for http: URLs; a private keep-alive agent by default (destroyed by `close()`). */
  httpAgent?: HttpAgent;
  /** Agent for https: URLs; a private keep-alive agent by default (destroyed by `close()`). */
  httpsAgent?: HttpsAgent;
  /** Hard limit for one exchange in ms; off by default (the driver's stall timer guards progress). */
  timeoutMs?: number;
  /** Sent as `user-agent`. */
  userAgent?: string;
}

/**
 * A transport straight on node:http / node:https (Transport contract v2): the body views are written
 * to the socket as they are, with no stream adapter in between, over keep-alive connections. Same
 * contract as the gaxios transport (and the same conformance suite); offered because it costs less
 * CPU per byte.
 *
 * It owns the keep-alive agents it creates, and so their sockets: `close()` destroys them (agents
 * passed in are left alone). The Node adapter builds one per upload and closes it when the upload
 * ends; whoever creates one directly closes it when done.
 */
export function createHttpTransport(options: HttpTransportOptions = {}): Transport & { close(): void } {
  const ownHttp = options.httpAgent === undefined;
  const ownHttps = options.httpsAgent === undefined;
  let httpAgent = options.httpAgent;
  let httpsAgent = options.httpsAgent;
  let closed = false;
  const { auth, timeoutMs, userAgent } = options;

  // Agents are made on first use, so a transport that only ever speaks http opens no https agent.
  function agentFor(secure: boolean): HttpAgent | HttpsAgent {
    if (secure) return (httpsAgent ??= new HttpsAgent({ keepAlive: true, maxSockets: 16 }));
    return (httpAgent ??= new HttpAgent({ keepAlive: true, maxSockets: 16 }));
  }

  async function send(request: TransportRequest, sendOptions: TransportSendOptions): Promise<TransportResponse> {
    const { signal, onUploadProgress, maxResponseBytes } = sendOptions;
    const where = `${request.method} ${redactUrl(request.url)}`;
    if (closed) throw new TransportError("network", `${where}: the transport was closed`, { code: "ERR_TRANSPORT_CLOSED" });
    if (signal.aborted) throw new TransportError("aborted", `${where}: aborted before it started`, { code: "ABORT_ERR" });
    const headers = await requestHeaders(request, sendOptions, auth, userAgent);
    if (signal.aborted) throw new TransportError("aborted", `${where}: aborted before it started`, { code: "ABORT_ERR" });
    const url = new URL(request.url);
    const secure = url.protocol === "https:";

    return new Promise<TransportResponse>((resolve, reject) => {
      let settled = false;
      const fail = (kind: TransportErrorKind, message: string, code: string | undefined, tooLarge = false): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        req.destroy();
        reject(new TransportError(kind, `${where}: ${message}`, { ...(code === undefined ? {} : { code }), ...(tooLarge ? { tooLarge } : {}) }));
      };
      const succeed = (response: TransportResponse): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        resolve(response);
      };
      const onAbort = (): void => fail("aborted", "aborted", "ABORT_ERR");

      const req = (secure ? httpsRequest : httpRequest)(url, {
        method: request.method,
        headers,
        agent: agentFor(secure),
        ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
      });
      signal.addEventListener("abort", onAbort, { once: true });
      req.on("timeout", () => fail("timeout", `timed out after ${timeoutMs} ms`, "ETIMEDOUT"));
      req.on("error", (error) => fail("network", `did not complete (${errorCode(error) ?? "ERR_TRANSPORT"})`, errorCode(error)));
      req.on("response", (res: IncomingMessage) => {
        const parts: Buffer[] = [];
        let length = 0;
        res.on("data", (part: Buffer) => {
          length += part.byteLength;
          if (length > maxResponseBytes) {
            fail("truncated", `response body over ${maxResponseBytes} bytes, refused`, "ERR_RESPONSE_TOO_LARGE", true);
            return;
          }
          parts.push(part);
        });
        res.on("error", (error) => fail("truncated", `response cut short (${errorCode(error) ?? "ERR_TRANSPORT"})`, errorCode(error) ?? "ECONNRESET"));
        res.on("close", () => {
          // `complete` is false when the socket closed before the body its headers announced.
          if (!res.complete) {
            fail("truncated", "response cut short", "ECONNRESET");
            return;
          }
          const responseHeaders: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(", ") : value;
          }
          succeed({ status: res.statusCode ?? 0, headers: responseHeaders, body: Buffer.concat(parts, length).toString("utf8") });
        });
      });

      writeViews(req, request.body, onUploadProgress).then(
        () => req.end(),
        (error: unknown) => fail("network", `writing the body failed (${errorCode(error) ?? "ERR_TRANSPORT"})`, errorCode(error)),
      );
    });
  }

  return {
    specificationVersion: TRANSPORT_SPECIFICATION_VERSION,
    capabilities: { uploadProgress: true },
    send,
    close() {
      closed = true;
      if (ownHttp) httpAgent?.destroy();
      if (ownHttps) httpsAgent?.destroy();
    },
  };
}
