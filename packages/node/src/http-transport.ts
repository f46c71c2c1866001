import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Transport, TransportRequest, TransportResponse, TransportSendOptions } from "@resumable-gcs/core";
import type { AuthHeaderSource } from "./gaxios-transport.js";
import { TransportError, describeUrl, errorCode } from "./errors.js";

/** Options for {@link createHttpTransport}. */
export interface HttpTransportOptions {
  /** Where auth headers come from; omit to send none, as for an emulator. */
  auth?: AuthHeaderSource | undefined;
  /** Agent for http: URLs; a private keep-alive agent by default. */
  httpAgent?: HttpAgent;
  /** Agent for https: URLs; a private keep-alive agent by default. */
  httpsAgent?: HttpsAgent;
  /** Hard limit for one exchange in ms; off by default (the driver's stall timer guards progress). */
  timeoutMs?: number;
  /** Sent as `user-agent`. */
  userAgent?: string;
}

/** Bytes handed to the socket per write: small enough that progress (and so the stall timer) ticks. */
const WRITE_SLICE = 256 * 1024;

/**
 * A transport straight on node:http / node:https: the body views are written to the socket as they
 * are, with no stream adapter in between, over keep-alive connections. Same contract as the gaxios
 * transport (and the same conformance suite); offered because it costs less CPU per byte.
 */
export function createHttpTransport(options: HttpTransportOptions = {}): Transport & { close(): void } {
  const httpAgent = options.httpAgent ?? new HttpAgent({ keepAlive: true, maxSockets: 16 });
  const httpsAgent = options.httpsAgent ?? new HttpsAgent({ keepAlive: true, maxSockets: 16 });
  const { auth, timeoutMs, userAgent } = options;

  async function send(request: TransportRequest, sendOptions: TransportSendOptions): Promise<TransportResponse> {
    const { signal, onUploadProgress } = sendOptions;
    if (signal.aborted) throw new TransportError("request aborted before it started", "ABORT_ERR");
    const headers: Record<string, string> = { ...request.headers };
    if (userAgent !== undefined) headers["user-agent"] = userAgent;
    if (auth !== undefined) {
      const extra = await auth.getRequestHeaders(request.url);
      const entries = extra instanceof Headers ? [...extra.entries()] : Object.entries(extra);
      for (const [name, value] of entries) headers[name.toLowerCase()] = value;
    }
    if (signal.aborted) throw new TransportError("request aborted before it started", "ABORT_ERR");
    const url = new URL(request.url);
    const secure = url.protocol === "https:";
    const where = `${request.method} ${describeUrl(request.url)}`;

    return new Promise<TransportResponse>((resolve, reject) => {
      let settled = false;
      const finish = (error: TransportError | undefined, response?: TransportResponse): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        if (error !== undefined) {
          req.destroy();
          reject(error);
        } else resolve(response!);
      };
      const onAbort = (): void => finish(new TransportError(`${where} aborted`, "ABORT_ERR"));

      const req = (secure ? httpsRequest : httpRequest)(url, {
        method: request.method,
        headers,
        agent: secure ? httpsAgent : httpAgent,
        ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
      });
      signal.addEventListener("abort", onAbort, { once: true });
      req.on("timeout", () => finish(new TransportError(`${where} timed out after ${timeoutMs} ms`, "ETIMEDOUT")));
      req.on("error", (error) => finish(new TransportError(`${where} did not complete (${errorCode(error) ?? "ERR_TRANSPORT"})`, errorCode(error))));
      req.on("response", (res: IncomingMessage) => {
        const parts: Buffer[] = [];
        res.on("data", (part: Buffer) => parts.push(part));
        res.on("error", (error) => finish(new TransportError(`${where}: response cut short (${errorCode(error) ?? "ERR_TRANSPORT"})`, errorCode(error) ?? "ECONNRESET")));
        res.on("close", () => {
          // `complete` is false when the socket closed before the body its headers announced.
          if (!res.complete) {
            finish(new TransportError(`${where}: response cut short`, "ECONNRESET"));
            return;
          }
          const responseHeaders: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(", ") : value;
          }
          finish(undefined, { status: res.statusCode ?? 0, headers: responseHeaders, body: Buffer.concat(parts).toString("utf8") });
        });
      });

      writeBody(req, request.body, onUploadProgress).then(
        () => req.end(),
        (error: unknown) => finish(new TransportError(`${where}: writing the body failed (${errorCode(error) ?? "ERR_TRANSPORT"})`, errorCode(error))),
      );
    });
  }

  return {
    send,
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/** Writes the views in slices, waiting for 'drain' so memory stays with the caller's buffers. */
async function writeBody(
  req: ClientRequest,
  views: readonly Uint8Array[],
  onProgress: ((bytesSent: number) => void) | undefined,
): Promise<void> {
  let sent = 0;
  for (const view of views) {
    for (let at = 0; at < view.byteLength; at += WRITE_SLICE) {
      if (req.destroyed) return;
      const slice = view.subarray(at, Math.min(view.byteLength, at + WRITE_SLICE));
      const more = req.write(slice);
      sent += slice.byteLength;
      onProgress?.(sent);
      if (!more) {
        await new Promise<void>((resolve, reject) => {
          const onDrain = (): void => {
            req.off("close", onClose);
            resolve();
          };
          const onClose = (): void => {
            req.off("drain", onDrain);
            reject(Object.assign(new Error("socket closed while writing"), { code: "ECONNRESET" }));
          };
          req.once("drain", onDrain);
          req.once("close", onClose);
        });
      }
    }
  }
}
