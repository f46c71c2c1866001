/**
 * One request and its response: reading the body, answering like GCS (JSON errors, CORS, the fixed
 * latency option) and the response-side faults (a body cut after N bytes). Every wait here listens to
 * the server's stop signal, so stopping the emulator never leaves a timer behind.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { corsResponseHeaders, type CorsPolicy } from "./cors.js";
import type { Fault } from "./faults.js";

/** What every exchange needs from the server around it. */
export interface ExchangeContext {
  readonly latencyMs: number;
  readonly signal: AbortSignal;
  readonly fallbackBaseUrl: string;
  log(line: string): void;
}

const REASON_PHRASES: Readonly<Record<number, string>> = { 308: "Resume Incomplete", 499: "Client Closed Request" };

/** Response-side faults: what they do to the body once the request has been processed. */
type ResponseFault = Extract<Fault, { kind: "broken-stream" | "broken-stream-after" | "broken-final" | "truncated-final" | "stall" }>;

/** Body-side faults the exchange applies while reading. */
type BodyFault = Extract<Fault, { kind: "stall" | "reset-after" }>;

/** How reading a request body ended. */
export type BodyOutcome = "complete" | "cut" | "reset";

/** Thrown (and swallowed by the server) when the emulator stops in the middle of an exchange. */
export function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === "AbortError";
}

/** A request being answered. */
export class Exchange {
  readonly method: string;
  /** The raw (still percent-encoded) path: `new URL` would resolve `..` segments of object names. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The origin the response allows, if any: the request's, or the session's it was created with. */
  origin: string | undefined;
  /** The CORS policy of the bucket the request is for (set by the router). */
  cors: CorsPolicy = { mode: "any" };
  /** The consumed fault instruction, for the log line. */
  faultLabel: string | undefined;
  /** A fault acting on the request body as it arrives (stall, reset-after), set before the body is read. */
  bodyFault: BodyFault | undefined;
  /** How errors are written: GCS's JSON API shape, or the XML API's `<Error><Code>` document (multipart routes). */
  errorFormat: "json" | "xml" = "json";
  #responseFault: ResponseFault | undefined;
  #answered = false;
  #body: Promise<BodyOutcome> | undefined;
  #bodyLength = 0;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly context: ExchangeContext,
  ) {
    this.method = req.method ?? "GET";
    const raw = req.url ?? "/";
    const question = raw.indexOf("?");
    this.path = question === -1 ? raw : raw.slice(0, question);
    this.query = new URLSearchParams(question === -1 ? "" : raw.slice(question + 1));
    this.origin = this.header("origin");
  }

  /** `http://host:port` as the client addressed us, for `Location` and resource links. */
  get baseUrl(): string {
    const host = this.header("host");
    return host ? `http://${host}` : this.context.fallbackBaseUrl;
  }

  /** One header value (the first, when repeated). */
  header(name: string): string | undefined {
    const value = this.req.headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  }

  /** Applies a response-side fault to the response this exchange will send. */
  cutResponse(fault: ResponseFault): void {
    this.#responseFault = fault;
  }

  /** Whether the response (or a reset) has gone out already. */
  get answered(): boolean {
    // A socket detached after a finished response (null) counts as gone too.
    return this.#answered || (this.req.socket?.destroyed ?? true);
  }

  /** Reads and discards the rest of the request body (body-side faults still apply while it arrives). */
  async drain(): Promise<void> {
    await this.streamBody(() => undefined);
  }

  /**
   * Reads the whole body, up to `limit` bytes. Undefined when it is larger (the rest is discarded),
   * when the client gave up, or when a fault reset the connection: check {@link answered}.
   */
  async readBody(limit: number): Promise<Buffer | undefined> {
    const chunks: Buffer[] = [];
    let length = 0;
    const outcome = await this.streamBody((chunk) => {
      length += chunk.length;
      if (length <= limit) chunks.push(chunk);
    });
    return outcome === "complete" && length <= limit ? Buffer.concat(chunks) : undefined;
  }

  /** Bytes of request body received so far. */
  get bodyLength(): number {
    return this.#bodyLength;
  }

  /**
   * Streams the request body into `sink`, once (later calls return the first outcome). A body-side
   * fault acts at its byte position in the body, or at the end of a shorter body:
   * a stall stops reading (the socket backs up) for its time, a reset-after resets the connection.
   * "cut" means the client went away before the end of the body.
   */
  streamBody(sink: (chunk: Buffer) => void): Promise<BodyOutcome> {
    this.#body ??= this.#stream(sink);
    return this.#body;
  }

  async #stream(sink: (chunk: Buffer) => void): Promise<BodyOutcome> {
    const req = this.req;
    const fault = this.bodyFault;
    let fired = fault === undefined;
    // Runs the fault once; true when it reset the connection.
    const fire = async (): Promise<boolean> => {
      fired = true;
      if (fault?.kind === "reset-after") {
        this.reset();
        return true;
      }
      if (fault?.kind === "stall") await sleep(fault.stallMs, undefined, { signal: this.context.signal });
      return false;
    };
    try {
      if (!fired && fault?.afterBytes === 0 && (await fire())) return "reset";
      for await (const chunk of req as AsyncIterable<Buffer>) {
        let rest = chunk;
        if (!fired && fault && this.#bodyLength + rest.length >= fault.afterBytes) {
          const head = rest.subarray(0, fault.afterBytes - this.#bodyLength);
          this.#bodyLength += head.length;
          if (head.length > 0) sink(head);
          if (await fire()) return "reset";
          rest = rest.subarray(head.length);
        }
        this.#bodyLength += rest.length;
        if (rest.length > 0) sink(rest);
      }
    } catch (error) {
      if (isAbort(error)) throw error;
      return "cut";
    }
    if (!fired && (await fire())) return "reset";
    return "complete";
  }

  /** Logs that the client went away mid-body (nothing is answered: there is nobody to answer). */
  noteCut(detail: string): void {
    this.#answered = true;
    this.context.log(`${this.method} ${redact(this.req.url ?? "")} -> cut by client${this.#faultSuffix()} (${detail})`);
  }

  /** Resets the connection (TCP RST) without a response. */
  reset(): void {
    this.#answered = true;
    this.context.log(`${this.method} ${redact(this.req.url ?? "")} -> reset${this.#faultSuffix()}`);
    const socket = this.req.socket as Socket | null;
    if (socket !== null && !socket.destroyed) socket.resetAndDestroy();
  }

  /** Sends a response: body drained first, then the latency option, CORS, and any response-side fault. */
  async send(status: number, headers: Record<string, string>, body: Buffer = Buffer.alloc(0)): Promise<void> {
    if (this.answered) return;
    await this.drain();
    if (this.answered) return;
    if (this.context.latencyMs > 0) await sleep(this.context.latencyMs, undefined, { signal: this.context.signal });
    if (this.answered) return;
    this.#answered = true;
    const all: Record<string, string> = { ...corsResponseHeaders(this.cors, this.origin, this.method), ...headers };
    this.context.log(`${this.method} ${redact(this.req.url ?? "")} -> ${status}${this.#faultSuffix()}`);
    const reason = REASON_PHRASES[status];
    const fault = this.#responseFault;
    if (fault === undefined || fault.kind === "truncated-final") {
      // A truncated body is a complete HTTP message: only a parser of the body can tell it is cut.
      if (fault !== undefined) body = body.subarray(0, Math.min(fault.afterBytes, body.length));
      all["Content-Length"] = String(body.length);
      if (reason) this.res.writeHead(status, reason, all);
      else this.res.writeHead(status, all);
      this.res.end(body);
      return;
    }
    // Chunked encoding, so the client cannot mistake a cut body for a complete one, even an empty one.
    if (reason) this.res.writeHead(status, reason, all);
    else this.res.writeHead(status, all);
    if (fault.kind === "stall") {
      const first = body.subarray(0, fault.afterBytes);
      if (first.length > 0) this.res.write(first);
      else this.res.flushHeaders();
      await sleep(fault.stallMs, undefined, { signal: this.context.signal });
      this.res.end(body.subarray(first.length));
      return;
    }
    const keep = fault.kind === "broken-stream" ? Math.floor(body.length / 2) : Math.min(fault.afterBytes, body.length);
    const socket = this.res.socket;
    const close = (): void => {
      socket?.destroySoon();
    };
    if (keep > 0) this.res.write(body.subarray(0, keep), close);
    else {
      this.res.flushHeaders();
      close();
    }
  }

  /** Sends a JSON body. */
  json(status: number, value: unknown, headers: Record<string, string> = {}): Promise<void> {
    return this.send(status, { "Content-Type": "application/json; charset=UTF-8", ...headers }, Buffer.from(JSON.stringify(value)));
  }

  /**
   * Sends a GCS-shaped error: JSON (`reason` as the JSON API names it), or on XML API routes an
   * `<Error>` document whose `Code` is `reason` when it is already an XML code (`NoSuchUpload`), else
   * the XML code for the status.
   */
  error(status: number, reason: string, message: string, headers: Record<string, string> = {}): Promise<void> {
    if (this.errorFormat === "json") return this.json(status, errorBody(status, reason, message), headers);
    const code = /^[A-Z]/.test(reason) ? reason : xmlCodeFor(status);
    const xml = `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${code}</Code><Message>${escapeText(message)}</Message></Error>`;
    return this.send(status, { "Content-Type": "application/xml; charset=UTF-8", ...headers }, Buffer.from(xml));
  }

  #faultSuffix(): string {
    return this.faultLabel === undefined ? "" : ` [${this.faultLabel}]`;
  }
}

/** The XML API's error code for a status, when the caller gave a JSON-style reason (injected faults, shared checks). */
function xmlCodeFor(status: number): string {
  const codes: Readonly<Record<number, string>> = {
    400: "InvalidArgument",
    401: "AuthenticationRequired",
    403: "AccessDenied",
    404: "NoSuchKey",
    405: "MethodNotAllowed",
    408: "RequestTimeout",
    409: "Conflict",
    410: "Gone",
    412: "PreconditionFailed",
    413: "EntityTooLarge",
    429: "SlowDown",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
  };
  return codes[status] ?? (status < 500 ? "InvalidRequest" : "InternalError");
}

function escapeText(text: string): string {
  return text.replace(/[<>&]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;" })[c]!);
}

/** The JSON error body GCS sends: `{"error":{"code","message","errors":[{message,domain,reason}]}}`. */
export function errorBody(status: number, reason: string, message: string): unknown {
  return { error: { code: status, message, errors: [{ message, domain: "global", reason }] } };
}

/** A path and query with the session capability shortened, fit for a log line. */
export function redact(url: string): string {
  return url.replace(/(upload_id=)([^&]{6})[^&]*/g, "$1$2...");
}
