/**
 * A small, correct Transport on node:http, for the suite's own tests: the suite must pass it, and
 * must fail each of its deliberate flaws (see {@link Flaws}). A suite that passes a broken transport
 * is worse than no suite, so every rule it claims is tested here by breaking it.
 */
import { Agent, request as httpRequest, type IncomingMessage } from "node:http";
import { TransportError, mergeHeaders, type AuthHeaderSource, type Transport, type TransportResponse } from "@resumable-gcs/core";

/** Ways to break the reference transport, one rule each. */
export interface Flaws {
  /** Follow a 3xx with a Location (as a naive fetch would). */
  readonly followRedirects?: boolean;
  /** Ignore `maxResponseBytes`. */
  readonly noResponseLimit?: boolean;
  /** Write the body views in reverse order. */
  readonly reverseViews?: boolean;
  /** Write each view's whole underlying buffer instead of the view. */
  readonly writeWholeBuffers?: boolean;
  /** Put the full URL in error messages. */
  readonly urlInErrors?: boolean;
  /** Attach credentials whatever `credentials` says. */
  readonly alwaysCredentials?: boolean;
  /** Never attach credentials. */
  readonly neverCredentials?: boolean;
  /** Ignore `refreshCredentials`. */
  readonly noRefresh?: boolean;
  /** Ignore the abort signal. */
  readonly ignoreAbort?: boolean;
  /** Report headers with their names as the server spelt them. */
  readonly rawHeaderNames?: boolean;
  /** Keep only the last of repeated headers. */
  readonly lastRepeatedHeaderOnly?: boolean;
  /** Decode each network read on its own. */
  readonly decodePerRead?: boolean;
  /** Resolve with what arrived when a response is cut short. */
  readonly acceptShortBodies?: boolean;
  /** Reject every failure with kind "network". */
  readonly everythingIsNetwork?: boolean;
  /** Send the body chunked, without its content-length. */
  readonly chunkedBodies?: boolean;
  /** Declare uploadProgress but never call onUploadProgress. */
  readonly noProgress?: boolean;
  /** Declare a different specification version. */
  readonly wrongVersion?: boolean;
}

function describeUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

function joinHeaders(res: IncomingMessage, flaws: Flaws): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    const raw = res.rawHeaders[i]!;
    const name = flaws.rawHeaderNames === true ? raw : raw.toLowerCase();
    const value = res.rawHeaders[i + 1]!;
    out[name] = out[name] === undefined || flaws.lastRepeatedHeaderOnly === true ? value : `${out[name]}, ${value}`;
  }
  return out;
}

/** A node:http transport implementing contract v2, optionally with {@link Flaws}. */
export function referenceTransport(auth: AuthHeaderSource, flaws: Flaws = {}): Transport & { close(): void } {
  const agent = new Agent({ keepAlive: true });
  const kind = (wanted: TransportError["kind"]): TransportError["kind"] => (flaws.everythingIsNetwork === true ? "network" : wanted);

  async function send(request: Parameters<Transport["send"]>[0], options: Parameters<Transport["send"]>[1], redirectsLeft = 3): Promise<TransportResponse> {
    const where = `${request.method} ${flaws.urlInErrors === true ? request.url : describeUrl(request.url)}`;
    const { signal } = options;
    if (signal.aborted && flaws.ignoreAbort !== true) throw new TransportError(kind("aborted"), `${where} aborted before it started`, { code: "ABORT_ERR" });
    let headers: Record<string, string> = { ...request.headers };
    if ((options.credentials || flaws.alwaysCredentials === true) && flaws.neverCredentials !== true) {
      try {
        if (options.refreshCredentials === true && flaws.noRefresh !== true) await auth.refresh?.();
        headers = mergeHeaders(headers, await auth.getRequestHeaders(request.url));
      } catch (error) {
        throw new TransportError(kind("auth"), `${where}: no credentials: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (flaws.chunkedBodies === true) delete headers["content-length"];

    const response = await new Promise<TransportResponse & { location?: string }>((resolve, reject) => {
      let settled = false;
      const finish = (error?: TransportError, value?: TransportResponse): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        if (error !== undefined) {
          req.destroy();
          reject(error);
        } else resolve(value!);
      };
      const onAbort = (): void => finish(new TransportError(kind("aborted"), `${where} aborted`, { code: "ABORT_ERR" }));
      const req = httpRequest(request.url, { method: request.method, headers, agent });
      if (flaws.ignoreAbort !== true) signal.addEventListener("abort", onAbort, { once: true });
      req.on("error", (error: NodeJS.ErrnoException) => finish(new TransportError(kind("network"), `${where} failed (${error.code ?? "error"})`, { code: error.code ?? "ERR" })));
      req.on("response", (res) => {
        const parts: Buffer[] = [];
        let text = "";
        let size = 0;
        res.on("data", (part: Buffer) => {
          size += part.byteLength;
          if (size > options.maxResponseBytes && flaws.noResponseLimit !== true) {
            finish(new TransportError(kind("truncated"), `${where}: response body over ${options.maxResponseBytes} bytes`, { tooLarge: true }));
            return;
          }
          if (flaws.decodePerRead === true) text += part.toString("utf8");
          else parts.push(part);
        });
        res.on("error", () => undefined);
        res.on("close", () => {
          if (!res.complete && flaws.acceptShortBodies !== true) {
            finish(new TransportError(kind("truncated"), `${where}: response cut short`));
            return;
          }
          finish(undefined, { status: res.statusCode ?? 0, headers: joinHeaders(res, flaws), body: flaws.decodePerRead === true ? text : Buffer.concat(parts).toString("utf8") });
        });
      });
      let sent = 0;
      const views = flaws.reverseViews === true ? [...request.body].reverse() : request.body;
      for (const view of views) {
        const bytes = flaws.writeWholeBuffers === true ? new Uint8Array(view.buffer) : view;
        req.write(bytes);
        sent += view.byteLength;
        if (flaws.noProgress !== true) options.onUploadProgress?.(sent);
      }
      req.end();
    });
    const location = response.headers["location"];
    if (flaws.followRedirects === true && response.status >= 300 && response.status < 400 && location !== undefined && redirectsLeft > 0) {
      return send({ ...request, url: location }, options, redirectsLeft - 1);
    }
    return response;
  }

  return {
    specificationVersion: (flaws.wrongVersion === true ? 1 : 2) as 2,
    capabilities: { uploadProgress: true },
    send: (request, options) => send(request, options),
    close: () => agent.destroy(),
  };
}
