/**
 * Raw HTTP for the conformance tests: node:http with a fresh connection per request (unless an agent is
 * given), so each test sees exactly the bytes and statuses the server produced. Never our client.
 */
import { request, type Agent, type IncomingHttpHeaders } from "node:http";
import { crc32c } from "@node-rs/crc32";
import { createHash } from "node:crypto";
import { afterAll, beforeAll } from "vitest";
import { startEmulator, type Emulator, type EmulatorOptions } from "../emulator.js";

/** A complete response. */
export interface RawResponse {
  readonly ok: true;
  readonly status: number;
  readonly statusMessage: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly text: string;
  json<T = Record<string, unknown>>(): T;
}

/** A request that did not get a complete response: reset, or a response cut mid-body. */
export interface RawFailure {
  readonly ok: false;
  readonly code: string;
  /** Status and headers, when they arrived before the break. */
  readonly status?: number;
  readonly headers?: IncomingHttpHeaders;
  /** Body bytes received before the break. */
  readonly body: Buffer;
}

/** Request options. */
export interface RawInit {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Send the body with chunked transfer-encoding (no Content-Length). */
  chunked?: boolean;
  agent?: Agent;
}

/** Sends one request; resolves with the response or the failure. */
export function exchange(url: string, init: RawInit = {}): Promise<RawResponse | RawFailure> {
  const body = typeof init.body === "string" ? Buffer.from(init.body) : init.body;
  const headers: Record<string, string> = { ...init.headers };
  if (!init.chunked && body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-length")) {
    headers["Content-Length"] = String(body.length);
  }
  // Without this header, node:http would compute a Content-Length for a body given to end().
  if (init.chunked) headers["Transfer-Encoding"] = "chunked";
  return new Promise((resolve) => {
    let settled = false;
    const settle = (value: RawResponse | RawFailure): void => {
      if (!settled) {
        settled = true;
        resolve(value);
      }
    };
    const req = request(url, { method: init.method ?? "GET", headers, agent: init.agent ?? false });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        if (!res.complete) return;
        const all = Buffer.concat(chunks);
        settle({
          ok: true,
          status: res.statusCode ?? 0,
          statusMessage: res.statusMessage ?? "",
          headers: res.headers,
          body: all,
          text: all.toString("utf8"),
          json: <T>() => JSON.parse(all.toString("utf8")) as T,
        });
      });
      const broken = (error?: NodeJS.ErrnoException): void =>
        settle({ ok: false, code: error?.code ?? "ABORTED", status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) });
      res.on("aborted", () => broken());
      res.on("error", broken);
      res.on("close", () => {
        if (!res.complete) broken();
      });
    });
    req.on("error", (error: NodeJS.ErrnoException) => settle({ ok: false, code: error.code ?? "ERROR", body: Buffer.alloc(0) }));
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/** Sends one request and insists on a complete response. */
export async function http(url: string, init: RawInit = {}): Promise<RawResponse> {
  const outcome = await exchange(url, init);
  if (!outcome.ok) throw new Error(`${init.method ?? "GET"} ${url} failed: ${outcome.code} (status ${outcome.status ?? "none"})`);
  return outcome;
}

/**
 * Sends the headers (with the full Content-Length) and only the first `sent` bytes of `body`, then closes
 * the connection like a client that gives up. Resolves once the socket is closed.
 */
export function sendAndCut(url: string, init: RawInit & { body: Buffer; sent: number }): Promise<void> {
  const headers = { "Content-Length": String(init.body.length), ...init.headers };
  return new Promise((resolve) => {
    const req = request(url, { method: init.method ?? "PUT", headers, agent: false });
    req.on("error", () => undefined);
    req.on("close", () => resolve());
    req.flushHeaders();
    req.write(init.body.subarray(0, init.sent), () => {
      setTimeout(() => req.destroy(), 50);
    });
  });
}

/** A test emulator that records its log lines, so a test can wait for the server to have seen something. */
export interface TestEmulator extends Emulator {
  readonly lines: string[];
  /** Resolves when a log line matches (immediately if one did already). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

/** Starts an emulator with a `bkt` bucket and a recording logger. */
export async function startTestEmulator(options: EmulatorOptions = {}): Promise<TestEmulator> {
  const lines: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  const emulator = await startEmulator({
    buckets: ["bkt"],
    ...options,
    logger: (line) => {
      lines.push(line);
      for (const waiter of waiters) {
        if (waiter.pattern.test(line)) {
          waiters.delete(waiter);
          waiter.resolve(line);
        }
      }
    },
  });
  return Object.assign(emulator, {
    lines,
    waitForLog(pattern: RegExp, timeoutMs = 5000): Promise<string> {
      const seen = lines.find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no log line matched ${String(pattern)}; lines:\n${lines.join("\n")}`));
        }, timeoutMs);
        const waiter = {
          pattern,
          resolve: (line: string) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        waiters.add(waiter);
      });
    },
  });
}

/** Starts a resumable session with the JSON API; returns the session URI. */
export async function startSession(
  url: string,
  name: string,
  init: { headers?: Record<string, string>; query?: string; resource?: Record<string, unknown>; bucket?: string } = {},
): Promise<string> {
  const response = await http(
    `${url}/upload/storage/v1/b/${init.bucket ?? "bkt"}/o?uploadType=resumable&name=${encodeURIComponent(name)}${init.query ?? ""}`,
    {
      method: "POST",
      headers: { "Content-Type": "application/json; charset=UTF-8", ...init.headers },
      body: JSON.stringify(init.resource ?? {}),
    },
  );
  if (response.status !== 200) throw new Error(`session start answered ${response.status}: ${response.text}`);
  return String(response.headers.location);
}

/** `PUT` of `body` as bytes `first`..., with a total or `*`. */
export function putChunk(
  session: string,
  first: number,
  body: Buffer,
  total: number | "*",
  headers: Record<string, string> = {},
): Promise<RawResponse | RawFailure> {
  const range = body.length === 0 ? `bytes */${total}` : `bytes ${first}-${first + body.length - 1}/${total}`;
  return exchange(session, { method: "PUT", headers: { "Content-Range": range, ...headers }, body });
}

/** A status query: an empty PUT whose Content-Range has no byte range, only a total or a star. */
export function query(session: string, total: number | "*" = "*", headers: Record<string, string> = {}): Promise<RawResponse> {
  return http(session, { method: "PUT", headers: { "Content-Range": `bytes */${total}`, ...headers }, body: Buffer.alloc(0) });
}

/** Deterministic test bytes. */
export function bytes(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** CRC32C in GCS form, computed independently of the emulator's bookkeeping. */
export function crc32cBase64(data: Uint8Array): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32c(data) >>> 0);
  return out.toString("base64");
}

/** MD5 in GCS form. */
export function md5Base64(data: Uint8Array): string {
  return createHash("md5").update(data).digest("base64");
}

/** The persisted offset a 308 reports (no `Range` header = 0). */
export function persistedOf(response: { headers?: IncomingHttpHeaders }): number {
  const range = response.headers?.range;
  if (range === undefined) return 0;
  const match = /^bytes=0-(\d+)$/.exec(String(range));
  if (!match) throw new Error(`unexpected Range ${String(range)}`);
  return Number(match[1]) + 1;
}

/** 256 KiB. */
export const KIB256 = 256 * 1024;

/** One test file's emulator, shared by its tests: see {@link useTestEmulator}. */
export interface SuiteEmulator {
  /** The running emulator (started in `beforeAll`); reading it outside a test throws. */
  readonly em: TestEmulator;
  /** A new object name, unique in this file: `${prefix}${n}`. */
  readonly fresh: () => string;
  /** Registers a `retry_test` over HTTP, as a testbench client would (fault instructions per operation), and returns its id for `x-retry-test-id`. */
  readonly registerRetryTest: (instructions: Record<string, string[]>) => Promise<string>;
}

/**
 * Starts one emulator for the calling test file (in `beforeAll`, stopped in `afterAll`): the setup
 * every conformance file shares, written once. `em` forwards to the running emulator, so tests
 * read `em.url` as they would a local variable.
 */
export function useTestEmulator(prefix: string, options: EmulatorOptions = {}): SuiteEmulator {
  let running: TestEmulator | undefined;
  let n = 0;
  beforeAll(async () => {
    running = await startTestEmulator(options);
  });
  afterAll(async () => {
    await running?.stop();
    running = undefined;
  });
  const current = (): TestEmulator => {
    if (running === undefined) throw new Error("the suite's emulator runs only between beforeAll and afterAll: read `em` inside a test");
    return running;
  };
  const em = new Proxy({} as TestEmulator, {
    get(_target, key) {
      const target = current();
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return {
    em,
    fresh: () => `${prefix}${++n}`,
    async registerRetryTest(instructions) {
      const response = await http(`${current().url}/retry_test`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ instructions }),
      });
      if (response.status !== 200) throw new Error(`retry_test registration answered ${response.status}: ${response.text}`);
      return response.json<{ id: string }>().id;
    },
  };
}
