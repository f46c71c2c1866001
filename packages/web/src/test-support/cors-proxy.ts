/**
 * A loopback proxy in front of the emulator that misconfigures CORS on purpose, so the browser tests
 * can show what a page sees with a bucket set up wrongly:
 *
 * - `/hide-headers/...`: CORS allowed (the origin is echoed) but nothing exposed, as a bucket whose
 *   `responseHeader` omits `Range`: the page reads a 308 without any header.
 * - `/refuse-preflight/...`: preflights answered 403 without CORS headers, as a bucket whose CORS
 *   configuration lacks the page's origin or method: fetch/XHR fail like a network error.
 *
 * The rest of the path and the query go to the emulator unchanged.
 */
import { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";

/** A running proxy. */
export interface CorsProxy {
  /** The proxy's base URL (http://127.0.0.1:PORT). */
  readonly url: string;
  /** Stops the proxy and closes its connections. */
  stop(): Promise<void>;
}

function forward(target: URL, req: IncomingMessage, res: ServerResponse, rewrite: (headers: IncomingHttpHeaders) => IncomingHttpHeaders): void {
  const upstream = request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, rewrite(answer.headers));
    answer.pipe(res);
  });
  upstream.on("error", () => res.destroy());
  req.pipe(upstream);
}

/** Starts the proxy on 127.0.0.1 (a free port) in front of `emulatorUrl`. */
export async function startCorsProxy(emulatorUrl: string): Promise<CorsProxy> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://proxy.invalid");
    const [, fault, ...rest] = url.pathname.split("/");
    const target = new URL(`/${rest.join("/")}${url.search}`, emulatorUrl);
    if (fault === "refuse-preflight") {
      if (req.method === "OPTIONS") {
        res.writeHead(403, { "content-type": "text/plain" }).end("CORS not configured for this origin");
        return;
      }
      forward(target, req, res, (headers) => Object.fromEntries(Object.entries(headers).filter(([name]) => !name.startsWith("access-control-"))));
      return;
    }
    if (fault === "hide-headers") {
      forward(target, req, res, (headers) => Object.fromEntries(Object.entries(headers).filter(([name]) => name !== "access-control-expose-headers")));
      return;
    }
    res.writeHead(404).end("unknown proxy fault");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
