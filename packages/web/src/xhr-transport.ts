import { type AuthHeaderSource, type Transport, TransportError, type TransportRequest, type TransportResponse, type TransportSendOptions } from "@resumable-gcs/core";
import { crossOriginFrom, hiddenHeadersError, probeCorsRefusal } from "./cors.js";
import { describeRequest, joinBody, parseRawHeaders, requestHeaders, tooLargeError } from "./http-common.js";

/** Options for {@link createXhrTransport}. */
export interface XhrTransportOptions {
  /** Where auth headers come from (attached only when the upload layer allows credentials); omit for none. */
  readonly auth?: AuthHeaderSource | undefined;
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
 * A transport on `XMLHttpRequest`, the default in browsers: unlike fetch it reports upload progress
 * (`upload.onprogress`), so the driver's stall timer resets while bytes leave and `progress` events
 * show bytes sent, not only bytes persisted. Same contract otherwise as {@link createFetchTransport},
 * CORS detection included.
 *
 * @example
 * ```ts
 * const upload = createUploadStream({ sessionUri, transport: createXhrTransport({ timeoutMs: 120_000 }) });
 * ```
 */
export function createXhrTransport(options: XhrTransportOptions = {}): Transport {
  const { auth, timeoutMs } = options;
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new RangeError(`createXhrTransport: timeoutMs must be a positive number, got ${timeoutMs}`);
  const Xhr = (globalThis as { XMLHttpRequest?: new () => XMLHttpRequest }).XMLHttpRequest;
  if (Xhr === undefined) throw new TypeError("createXhrTransport: this runtime has no XMLHttpRequest (use createFetchTransport)");

  async function send(request: TransportRequest, sendOptions: TransportSendOptions): Promise<TransportResponse> {
    const { signal, maxResponseBytes, onUploadProgress } = sendOptions;
    const describe = describeRequest(request);
    if (signal.aborted) throw new TransportError("aborted", `${describe} aborted before it started`);
    const headers = await requestHeaders(request, sendOptions, auth, true);
    if (signal.aborted) throw new TransportError("aborted", `${describe} aborted before it started`);
    const origin = crossOriginFrom(request.url);
    const body = joinBody(request);

    const outcome = await new Promise<{ response: TransportResponse } | { failure: TransportError } | { networkError: true }>((resolve) => {
      const xhr = new Xhr!();
      let settled = false;
      const settle = (value: { response: TransportResponse } | { failure: TransportError } | { networkError: true }): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      };
      const onAbort = (): void => {
        settle({ failure: new TransportError("aborted", `${describe} aborted`) });
        xhr.abort();
      };
      xhr.open(request.method, request.url);
      xhr.responseType = "text";
      if (timeoutMs !== undefined) xhr.timeout = timeoutMs;
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      if (onUploadProgress !== undefined && request.bodyLength > 0) {
        // Listening on xhr.upload is what makes the browser report progress (and preflight): only when wanted.
        xhr.upload.onprogress = (event) => onUploadProgress(Math.min(event.loaded, request.bodyLength));
      }
      xhr.onprogress = (event) => {
        if (event.loaded > maxResponseBytes) {
          settle({ failure: tooLargeError(describe, maxResponseBytes) });
          xhr.abort();
        }
      };
      xhr.ontimeout = () => settle({ failure: new TransportError("timeout", `${describe} timed out after ${timeoutMs} ms`) });
      xhr.onabort = () => settle({ failure: new TransportError("aborted", `${describe} aborted`) });
      // XHR reports a refused connection, a cut response and a CORS refusal all as `error`, status 0.
      // Only whether headers had arrived tells a cut response from a request that never got one.
      let sawHeaders = false;
      xhr.onreadystatechange = () => {
        // HEADERS_RECEIVED or LOADING; a failure jumps straight to DONE, so DONE alone proves nothing.
        if (xhr.readyState === 2 || xhr.readyState === 3) sawHeaders = true;
      };
      xhr.onerror = () => settle(sawHeaders ? { failure: new TransportError("truncated", `${describe}: the response was cut short`) } : { networkError: true });
      xhr.onload = () => {
        const text = xhr.responseText;
        if (new TextEncoder().encode(text).byteLength > maxResponseBytes) {
          settle({ failure: tooLargeError(describe, maxResponseBytes) });
          return;
        }
        settle({ response: { status: xhr.status, headers: parseRawHeaders(xhr.getAllResponseHeaders()), body: text } });
      };
      signal.addEventListener("abort", onAbort, { once: true });
      xhr.send(body === undefined ? null : (body as Uint8Array<ArrayBuffer>));
    });

    if ("response" in outcome) {
      const hidden = options.corsHeaderCheck === false ? undefined : hiddenHeadersError(request, outcome.response, origin, describe);
      if (hidden !== undefined) throw hidden;
      return outcome.response;
    }
    if ("failure" in outcome) throw outcome.failure;
    if (origin !== undefined) {
      const cors = await probeCorsRefusal(request.url, origin, describe);
      if (cors !== undefined) throw cors;
    }
    throw new TransportError("network", `${describe} did not complete (connection refused or reset)`);
  }

  return { specificationVersion: 2, capabilities: { uploadProgress: true }, send };
}
