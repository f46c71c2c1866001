/**
 * The live loopback server the conformance cases run against (Node only).
 *
 * Two kinds of routes: the synthetic ones here, each built to misbehave in exactly one way (a status,
 * a reset before or during the response, a body shorter than announced, an endless body, a stall, a
 * split UTF-8 body), and a real `@resumable-gcs/emulator` beside it for the cases that speak the
 * upload protocol. The server keeps a record of every request by its `id` query parameter (what
 * arrived, how much body, whether the connection closed), so a case can check what the transport
 * really put on the wire, not what it claims. Every answer carries CORS headers, so browser
 * transports (fetch, XMLHttpRequest) run the same cases.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { startEmulator, type Emulator, type EmulatorOptions } from "@resumable-gcs/emulator";
import { fillPattern, patternMismatch } from "../pattern.js";
import {
  ENDLESS_CAP_BYTES,
  PARTIAL_BODY_BYTES,
  UTF8_TEXT,
  routes,
  type ConformanceServerInfo,
  type RequestRecord,
  type VerifyResult,
} from "../wire.js";

/** Options for {@link startConformanceServer}. */
export interface ConformanceServerOptions {
  /** Options for the emulator started beside the synthetic routes (buckets are created on first use by default). */
  readonly emulator?: EmulatorOptions;
  /** The longest a `/stall` exchange is held before the server gives up on it, in ms. Default 120000. */
  readonly stallLimitMs?: number;
}

/** A running conformance server: its addresses (plain JSON, see {@link ConformanceServerInfo}) and `stop`. */
export interface ConformanceServer extends ConformanceServerInfo {
  /** The addresses alone, for `provide` / `inject` or any test harness. */
  readonly info: ConformanceServerInfo;
  /** Closes both listeners and the emulator, destroying open connections and timers. Idempotent. */
  stop(): Promise<void>;
}

/** Response headers a browser may read: what the protocol needs plus what the cases inspect. */
const EXPOSED = [
  "Range",
  "Location",
  "ETag",
  "X-Goog-Hash",
  "X-Goog-Generation",
  "X-Goog-Metageneration",
  "X-Goog-Stored-Content-Length",
  "X-GUploader-UploadID",
  "Content-Length",
  "Content-Type",
  "X-Conformance-Mixed-Case",
  "X-Conformance-Repeated",
  "X-Conformance-Echo",
].join(", ");

interface MutableRecord {
  arrived: boolean;
  method?: string;
  headers?: Record<string, string>;
  bodyBytes: number;
  bodyComplete: boolean;
  responseStarted: boolean;
  bytesWritten: number;
  socketClosed: boolean;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      const address = server.address();
      if (address === null || typeof address === "string") reject(new Error("conformance server: no TCP address"));
      else resolve(`http://127.0.0.1:${address.port}`);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A loopback port nothing listens on: bind one, note it, release it. */
async function refusedPortUrl(): Promise<string> {
  const probe = createServer();
  const url = await listen(probe);
  await close(probe);
  return url;
}

let uploaderIds = 0;

/**
 * Headers on every answer: CORS (so pages can read it), and an `X-GUploader-UploadID` as GCS sends on
 * every upload response. Browser transports rely on that one to tell a `Range` the browser hid
 * (CORS not exposing it) from a `Range` that is absent (nothing persisted).
 */
function corsHeaders(req: IncomingMessage): Record<string, string> {
  const origin = req.headers.origin;
  uploaderIds += 1;
  return {
    "Access-Control-Allow-Origin": origin ?? "*",
    "Access-Control-Expose-Headers": EXPOSED,
    Vary: "Origin",
    "X-GUploader-UploadID": `conformance-${uploaderIds}`,
  };
}

function lowerCaseHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/** Raw status line and headers, for the routes that must cut a response in a way node:http would not. */
function rawHead(req: IncomingMessage, status: number, headers: Record<string, string>): string {
  const lines = [`HTTP/1.1 ${status} ${status === 200 ? "OK" : "Status"}`];
  for (const [name, value] of Object.entries({ ...corsHeaders(req), ...headers })) lines.push(`${name}: ${value}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/** Starts the synthetic routes, the other-origin listener and an emulator, all on 127.0.0.1 ports of their own. */
export async function startConformanceServer(options: ConformanceServerOptions = {}): Promise<ConformanceServer> {
  const stallLimitMs = options.stallLimitMs ?? 120_000;
  const records = new Map<string, MutableRecord>();
  const held = new Map<string, () => void>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const later = (ms: number, run: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  };

  function recordFor(req: IncomingMessage, id: string | null): MutableRecord {
    const record: MutableRecord = {
      arrived: true,
      method: req.method ?? "",
      headers: lowerCaseHeaders(req),
      bodyBytes: 0,
      bodyComplete: false,
      responseStarted: false,
      bytesWritten: 0,
      socketClosed: false,
    };
    if (id !== null && id !== "") records.set(id, record);
    // Cases abort and reset on purpose: a client gone mid-exchange is expected, never a crash.
    req.on("error", () => undefined);
    const socket = req.socket;
    if (socket.destroyed) record.socketClosed = true;
    else socket.once("close", () => (record.socketClosed = true));
    return record;
  }

  /** Drains the request body, counting it (and checking it against a pattern when asked). */
  function readBody(req: IncomingMessage, record: MutableRecord, check?: { seed: number }): Promise<number> {
    return new Promise((resolve) => {
      let firstMismatch = -1;
      req.on("data", (part: Buffer) => {
        if (check !== undefined && firstMismatch === -1) {
          const at = patternMismatch(part, record.bodyBytes, check.seed);
          if (at !== -1) firstMismatch = at;
        }
        record.bodyBytes += part.byteLength;
      });
      req.on("end", () => {
        record.bodyComplete = true;
        resolve(firstMismatch);
      });
    });
  }

  function send(req: IncomingMessage, res: ServerResponse, record: MutableRecord, status: number, body: string, headers: Record<string, string | string[]> = {}): void {
    const bytes = Buffer.from(body, "utf8");
    res.writeHead(status, { ...corsHeaders(req), "Content-Type": "application/json; charset=UTF-8", "Content-Length": String(bytes.byteLength), ...headers });
    record.responseStarted = true;
    res.end(bytes);
    record.bytesWritten += bytes.byteLength;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const id = url.searchParams.get("id");

    if (req.method === "OPTIONS") {
      // CORS preflight: allow whatever the case sends (credentials are explicit headers, never cookies).
      res.writeHead(204, {
        ...corsHeaders(req),
        "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, DELETE, OPTIONS",
        "Access-Control-Allow-Headers": req.headers["access-control-request-headers"] ?? "*",
        "Access-Control-Max-Age": "600",
      });
      res.end();
      return;
    }

    if (url.pathname === routes.record) {
      const record: RequestRecord = records.get(id ?? "") ?? {
        arrived: false,
        bodyBytes: 0,
        bodyComplete: false,
        responseStarted: false,
        bytesWritten: 0,
        socketClosed: false,
      };
      res.writeHead(200, { ...corsHeaders(req), "Content-Type": "application/json", "Cache-Control": "no-store" });
      res.end(JSON.stringify(record));
      return;
    }

    if (url.pathname === routes.release) {
      // A paused socket does not read, so it cannot see the client's close; reading again can.
      held.get(id ?? "")?.();
      held.delete(id ?? "");
      res.writeHead(204, corsHeaders(req));
      res.end();
      return;
    }

    const record = recordFor(req, id);
    switch (url.pathname) {
      case routes.respond: {
        await readBody(req, record);
        const status = Number(url.searchParams.get("status") ?? "200");
        const headers: Record<string, string[]> = {};
        for (const pair of url.searchParams.getAll("h")) {
          const colon = pair.indexOf(":");
          const name = pair.slice(0, colon);
          (headers[name] ??= []).push(pair.slice(colon + 1));
        }
        const body = url.searchParams.get("body") ?? (status >= 400 ? JSON.stringify({ error: { code: status, message: `status ${status} as asked` } }) : "");
        if (status === 204 || status === 304) {
          res.writeHead(status, { ...corsHeaders(req), ...headers });
          record.responseStarted = true;
          res.end();
        } else send(req, res, record, status, body, headers);
        return;
      }
      case routes.verify: {
        const seed = Number(url.searchParams.get("seed") ?? "1");
        const firstMismatch = await readBody(req, record, { seed });
        const result: VerifyResult = {
          received: record.bodyBytes,
          firstMismatch,
          ...(req.headers["content-length"] === undefined ? {} : { contentLength: req.headers["content-length"] }),
          ...(req.headers["transfer-encoding"] === undefined ? {} : { transferEncoding: req.headers["transfer-encoding"] }),
        };
        send(req, res, record, 200, JSON.stringify(result));
        return;
      }
      case routes.resetBefore: {
        await readBody(req, record);
        req.socket.resetAndDestroy();
        return;
      }
      case routes.resetMid:
      case routes.short: {
        await readBody(req, record);
        const socket: Socket = req.socket;
        const partial = Buffer.alloc(PARTIAL_BODY_BYTES, 0x7b);
        socket.write(rawHead(req, 200, { "Content-Type": "application/json", "Content-Length": "1024", Connection: "close" }));
        record.responseStarted = true;
        socket.write(partial, () => {
          record.bytesWritten += partial.byteLength;
          // A reset (RST) and a clean close (FIN) after a short body are different on the wire; a
          // transport must treat both as a response that did not complete.
          if (url.pathname === routes.resetMid) socket.resetAndDestroy();
          else socket.end();
        });
        return;
      }
      case routes.endless: {
        await readBody(req, record);
        const declared = url.searchParams.get("declared") === "1";
        res.writeHead(200, {
          ...corsHeaders(req),
          "Content-Type": "application/json",
          ...(declared ? { "Content-Length": String(ENDLESS_CAP_BYTES) } : {}),
        });
        record.responseStarted = true;
        const block = new Uint8Array(64 * 1024);
        fillPattern(block, 0, 7);
        const pump = (): void => {
          while (!res.destroyed && record.bytesWritten < ENDLESS_CAP_BYTES) {
            record.bytesWritten += block.byteLength;
            if (!res.write(block)) {
              res.once("drain", pump);
              return;
            }
          }
          if (!res.destroyed) res.end();
        };
        res.on("close", () => res.off("drain", pump));
        pump();
        return;
      }
      case routes.stall: {
        const stage = url.searchParams.get("stage");
        const giveUp = (): void => {
          if (!req.socket.destroyed) req.socket.destroy();
        };
        if (stage === "during-body") {
          // Take a little of the body, then stop reading: the client's writes back up and block.
          let paused = true;
          req.on("data", (part: Buffer) => {
            record.bodyBytes += part.byteLength;
            if (paused) req.pause();
          });
          // Once released, the rest is drained and discarded; the exchange is still never answered.
          held.set(id ?? "", () => {
            paused = false;
            req.resume();
          });
          later(stallLimitMs, giveUp);
          return;
        }
        await readBody(req, record);
        if (stage === "after-headers") {
          res.writeHead(200, { ...corsHeaders(req), "Content-Type": "application/json", "Content-Length": "1024" });
          record.responseStarted = true;
          res.write("{", () => (record.bytesWritten += 1));
        }
        later(stallLimitMs, giveUp);
        return;
      }
      case routes.utf8: {
        await readBody(req, record);
        const bytes = Buffer.from(UTF8_TEXT, "utf8");
        res.writeHead(200, { ...corsHeaders(req), "Content-Type": "text/plain; charset=UTF-8", "Content-Length": String(bytes.byteLength) });
        record.responseStarted = true;
        // Cut inside multi-byte characters (ï is 2 bytes at offset 2, ✓ 3 bytes, 🚀 4 bytes): a transport
        // that decodes each network chunk on its own turns the halves into U+FFFD.
        const cuts = [3, bytes.indexOf(0x9c) + 1, bytes.indexOf(0xf0) + 2, bytes.byteLength];
        let at = 0;
        const next = (): void => {
          const cut = cuts.shift();
          if (cut === undefined || res.destroyed) return;
          const piece = bytes.subarray(at, cut);
          at = cut;
          record.bytesWritten += piece.byteLength;
          if (at >= bytes.byteLength) res.end(piece);
          else res.write(piece, () => later(15, next));
        };
        next();
        return;
      }
      case routes.headers: {
        await readBody(req, record);
        send(req, res, record, 200, "{}", {
          "X-Conformance-Mixed-Case": "Value-Keeps-Its-Case",
          "X-Conformance-Repeated": ["first", "second"],
          "X-Goog-Hash": ["crc32c=n03x6A==", "md5=XrY7u+Ae7tCTyyK7j1rNww=="],
          ETag: '"conformance-etag"',
        });
        return;
      }
      default:
        await readBody(req, record);
        send(req, res, record, 404, JSON.stringify({ error: { code: 404, message: "no such conformance route" } }));
    }
  }

  const main = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  // A redirect target on another origin: it answers anything, and records what came (an
  // `authorization` header here would be a credential leaked to a foreign origin).
  const other = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (req.method === "OPTIONS") {
      res.writeHead(204, {
        ...corsHeaders(req),
        "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, DELETE, OPTIONS",
        "Access-Control-Allow-Headers": req.headers["access-control-request-headers"] ?? "*",
      });
      res.end();
      return;
    }
    const record = recordFor(req, url.searchParams.get("id"));
    void readBody(req, record).then(() => send(req, res, record, 200, JSON.stringify({ followed: true })));
  });
  for (const server of [main, other]) {
    // Cases abort and reset on purpose; a socket error is part of the exchange, not a server fault.
    server.on("clientError", (_error, socket) => socket.destroy());
    // A client reusing a kept-alive socket just as the server closes it sees a reset that no case
    // asked for; on a loaded machine Node's 5 s default makes that race likely. Keep sockets long.
    server.keepAliveTimeout = 120_000;
    // A 64 MiB body on a loaded machine must not meet Node's 5-minute request timeout either.
    server.requestTimeout = 0;
  }

  let emulator: Emulator | undefined;
  try {
    const [url, otherOriginUrl, refusedUrl] = [await listen(main), await listen(other), await refusedPortUrl()];
    emulator = await startEmulator({ autoCreateBuckets: true, ...options.emulator });
    const info: ConformanceServerInfo = { url, otherOriginUrl, emulatorUrl: emulator.url, refusedUrl };
    const running = emulator;
    let stopped: Promise<void> | undefined;
    return {
      ...info,
      info,
      stop() {
        stopped ??= (async () => {
          for (const timer of timers) clearTimeout(timer);
          timers.clear();
          held.clear();
          await Promise.all([close(main), close(other), running.stop()]);
        })();
        return stopped;
      },
    };
  } catch (error) {
    await Promise.all([close(main), close(other), emulator?.stop()]);
    throw error;
  }
}
