import { type AuthHeaderSource, type Transport, TransportError, type TransportRequest, type TransportResponse, type TransportSendOptions } from "@resumable-gcs/core";
import { crossOriginFrom, hiddenHeadersError, probeCorsRefusal } from "./cors.js";
import { describeRequest, errorCode, headersToRecord, inBrowserContext, joinBody, reasonOf, requestHeaders, streamBody, streamsBodiesWithLength, tooLargeError } from "./http-common.js";

/** Options for {@link createFetchTransport}. */
export interface FetchTransportOptions {
  /** Where auth headers come from (attached only when the upload layer allows credentials); omit for none. */
  readonly auth?: AuthHeaderSource | undefined;
  /** The fetch to use; the runtime's global `fetch` by default (a Worker's service binding, a test double...). */
  readonly fetch?: typeof fetch | undefined;
  /** A hard limit for one exchange in ms; off by default (the driver's stall timer guards progress). */
  readonly timeoutMs?: number | undefined;
  /**
   * In a page, treat a 308 or session start that shows only CORS-safelisted headers as hidden by
   * CORS (a {@link CorsError}). Default true, right for GCS, which always sends
   * `X-GUploader-UploadID`; turn it off only for a GCS-like server that sends no header of its own.
   */
  readonly corsHeaderCheck?: boolean | undefined;
}

/**
 * A transport on the runtime's `fetch`: browsers, Deno, Bun, Cloudflare Workers and Node 22+.
 *
 * One request per call; in Node and Bun the body streams from the request's views without a copy
 * (with its Content-Length), elsewhere it goes as one `Uint8Array` (the single view itself, or one
 * copy of several); every status comes back as a response: outside browsers with `redirect: "manual"` (a
 * 3xx is returned, never followed); in a page with the default mode, because "manual" gives an
 * opaque status 0 there (a 308 without `Location`, as GCS sends, comes back as it is either way).
 * fetch cannot observe upload progress, so `capabilities.uploadProgress` is false and the driver
 * sizes its stall deadline from the body length. In a page, a CORS refusal becomes a {@link CorsError}.
 *
 * @example
 * ```ts
 * const transport = createFetchTransport({ auth: bearerTokenSource(() => getAccessToken()) });
 * ```
 */
export function createFetchTransport(options: FetchTransportOptions = {}): Transport {
  const { auth, timeoutMs } = options;
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new RangeError(`createFetchTransport: timeoutMs must be a positive number, got ${timeoutMs}`);
  // Resolved per call, not captured: a test or polyfill may replace the global after creation.
  const fetchImpl = (): typeof fetch => options.fetch ?? globalThis.fetch.bind(globalThis);
  // Only the runtime's own fetch is known to keep a streamed body's length; a given one gets buffers.
  const streamsBodies = options.fetch === undefined && streamsBodiesWithLength();

  async function send(request: TransportRequest, sendOptions: TransportSendOptions): Promise<TransportResponse> {
    const { signal, maxResponseBytes } = sendOptions;
    const describe = describeRequest(request);
    if (signal.aborted) throw new TransportError("aborted", `${describe} aborted before it started`);
    const browser = inBrowserContext();
    const headers = await requestHeaders(request, sendOptions, auth, browser);
    if (signal.aborted) throw new TransportError("aborted", `${describe} aborted before it started`);

    const controller = new AbortController();
    let timedOut = false;
    const onAbort = (): void => controller.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, timeoutMs);
    const stopped = (phase: string): TransportError =>
      timedOut ? new TransportError("timeout", `${describe} timed out after ${timeoutMs} ms (${phase})`) : new TransportError("aborted", `${describe} aborted (${phase})`);
    const origin = crossOriginFrom(request.url);

    try {
      let response: Response;
      try {
        // In Node and Bun the views go as a stream, without a copy (see streamBody); elsewhere as one buffer.
        const stream = streamsBodies ? streamBody(request) : undefined;
        const body = stream ?? joinBody(request);
        response = await fetchImpl()(request.url, {
          method: request.method,
          // A streamed body carries its length explicitly: the protocol wants Content-Length on every chunk.
          headers: stream === undefined ? headers : { ...headers, "content-length": String(request.bodyLength) },
          // Outside browsers "manual" hands a 3xx back as it is, which the contract wants. In a page it
          // would give an opaque status 0, so the browser's own following stays (it drops the
          // Authorization header on a cross-origin redirect; GCS's 308s carry no Location anyway).
          ...(browser ? {} : { redirect: "manual" as const }),
          // Views over a SharedArrayBuffer cannot be a body; core's views never are.
          ...(body === undefined ? {} : { body: body as Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> }),
          // A streamed request body must say so (fetch refuses it otherwise); `duplex` is not yet in every lib.dom.
          ...(stream === undefined ? {} : ({ duplex: "half" } as RequestInit)),
          signal: controller.signal,
        });
      } catch (error) {
        if (controller.signal.aborted) throw stopped("before a response");
        if (origin !== undefined) {
          const cors = await probeCorsRefusal(request.url, origin, describe, fetchImpl());
          if (cors !== undefined) throw cors;
        }
        // fetch's own error is not kept as the cause: runtimes put the full URL (upload_id and all) in it.
        throw new TransportError("network", `${describe} did not complete: ${reasonOf(error)}`, errorCode(error));
      }

      const announced = Number(response.headers.get("content-length") ?? "0");
      if (announced > maxResponseBytes) {
        await response.body?.cancel().catch(() => undefined);
        throw tooLargeError(describe, maxResponseBytes);
      }
      const text = await readText(response, maxResponseBytes, describe, () => (controller.signal.aborted ? stopped("reading the response") : undefined));
      const result: TransportResponse = { status: response.status, headers: headersToRecord(response.headers), body: text };
      const hidden = options.corsHeaderCheck === false ? undefined : hiddenHeadersError(request, result, origin, describe);
      if (hidden !== undefined) throw hidden;
      return result;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
  }

  return { specificationVersion: 2, capabilities: { uploadProgress: false }, send };
}

/** Reads the whole body as UTF-8 text, refusing more than `limit` bytes; a cut body rejects "truncated". */
async function readText(response: Response, limit: number, describe: string, whenStopped: (error: unknown) => TransportError | undefined): Promise<string> {
  const stream = response.body;
  if (stream === null) return "";
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let received = 0;
  let text = "";
  for (;;) {
    let step: ReadableStreamReadResult<Uint8Array>;
    try {
      step = await reader.read();
    } catch (error) {
      throw whenStopped(error) ?? new TransportError("truncated", `${describe}: the response was cut short (${reasonOf(error)})`, errorCode(error));
    }
    if (step.done) break;
    received += step.value.byteLength;
    if (received > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLargeError(describe, limit);
    }
    text += decoder.decode(step.value, { stream: true });
  }
  return text + decoder.decode();
}
