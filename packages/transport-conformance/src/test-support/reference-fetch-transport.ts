/**
 * A small Transport on `fetch`, for running the suite in real Chromium (vitest browser mode): the
 * proof that the cases, the server's CORS and the `inject` hand-over work where browser transports
 * live. Web-standard globals only. fetch cannot observe uploads (`uploadProgress: false`) and in a
 * page it follows redirects itself, hence `redirects: "followed"` where it runs.
 */
import { TransportError, mergeHeaders, type AuthHeaderSource, type Transport, type TransportResponse } from "@resumable-gcs/core";

function describeUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

function joined(views: readonly Uint8Array[], length: number): Uint8Array<ArrayBuffer> | undefined {
  if (views.length === 0) return undefined;
  const out = new Uint8Array(length);
  let at = 0;
  for (const view of views) {
    out.set(view, at);
    at += view.byteLength;
  }
  return out;
}

/** A fetch transport implementing contract v2. */
export function referenceFetchTransport(auth: AuthHeaderSource): Transport {
  return {
    specificationVersion: 2,
    capabilities: { uploadProgress: false },
    async send(request, options): Promise<TransportResponse> {
      const where = `${request.method} ${describeUrl(request.url)}`;
      const { signal } = options;
      if (signal.aborted) throw new TransportError("aborted", `${where} aborted before it started`);
      let headers: Record<string, string> = { ...request.headers };
      // The browser computes content-length itself and refuses to be told.
      delete headers["content-length"];
      if (options.credentials) {
        try {
          if (options.refreshCredentials === true) await auth.refresh?.();
          headers = mergeHeaders(headers, await auth.getRequestHeaders(request.url));
        } catch (error) {
          throw new TransportError("auth", `${where}: no credentials: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      const controller = new AbortController();
      const onAbort = (): void => controller.abort();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        let response: Response;
        try {
          const body = joined(request.body, request.bodyLength);
          response = await fetch(request.url, { method: request.method, headers, signal: controller.signal, ...(body === undefined ? {} : { body }) });
        } catch {
          throw new TransportError(signal.aborted ? "aborted" : "network", `${where} ${signal.aborted ? "aborted" : "did not complete"}`);
        }
        const parts: Uint8Array[] = [];
        let size = 0;
        const reader = response.body?.getReader();
        try {
          for (;;) {
            const next = reader === undefined ? ({ done: true } as const) : await reader.read();
            if (next.done) break;
            size += next.value.byteLength;
            if (size > options.maxResponseBytes) {
              await reader?.cancel().catch(() => undefined);
              throw new TransportError("truncated", `${where}: response body over ${options.maxResponseBytes} bytes`, { tooLarge: true });
            }
            parts.push(next.value);
          }
        } catch (error) {
          if (error instanceof TransportError) throw error;
          throw new TransportError(signal.aborted ? "aborted" : "truncated", `${where}: response ${signal.aborted ? "aborted" : "cut short"}`);
        }
        const out: Record<string, string> = {};
        response.headers.forEach((value, name) => (out[name.toLowerCase()] = value));
        return { status: response.status, headers: out, body: new TextDecoder().decode(joined(parts, size) ?? new Uint8Array(0)) };
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    },
  };
}
