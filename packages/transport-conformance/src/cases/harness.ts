/**
 * What every case shares: making (and closing) the transport under test, sending with the contract's
 * options filled in, the fake auth source, the secrets no error may reveal, and reading the server's
 * record of a request. Runtime-neutral: only web-standard globals (fetch, AbortController,
 * setTimeout, TextEncoder).
 */
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  TransportError,
  type AuthHeaderSource,
  type Transport,
  type TransportCapabilities,
  type TransportRequest,
  type TransportResponse,
  type TransportSendOptions,
} from "@resumable-gcs/core";
import { routes, type ConformanceServerInfo, type RequestRecord } from "../wire.js";

/** What a transport factory receives: the auth source it must use when a send asks for credentials. */
export interface TransportFactoryContext {
  /** The suite's auth source (its token is a secret the suite looks for in every error). Wire it as the transport's auth. */
  readonly auth: AuthHeaderSource;
}

/** Builds a fresh transport for one case; the suite calls `close()` on it afterwards when it has one. */
export type MakeTransport = (context: TransportFactoryContext) => Transport | Promise<Transport>;

/** Options of {@link conformanceCases}. */
export interface ConformanceOptions {
  /** Builds the transport under test (once per case, so one case's failure cannot poison the next). */
  readonly makeTransport: MakeTransport;
  /** Where the conformance server listens, or a function giving it once it is known (it is called when a case runs). */
  readonly server: ConformanceServerInfo | (() => ConformanceServerInfo | Promise<ConformanceServerInfo>);
  /** What the transport must declare as its capabilities (`uploadProgress` decides whether progress is checked or forbidden). */
  readonly capabilities: TransportCapabilities;
  /**
   * `"returned"` (default): a 3xx with a `Location` comes back as a response, not followed.
   * `"followed"`: the platform follows such redirects itself and the transport cannot stop it
   * (XMLHttpRequest, and fetch in browsers, where `redirect: "manual"` gives an opaque status 0); the
   * redirect cases then check instead that the follow carried no credentials to the other origin.
   */
  readonly redirects?: "returned" | "followed";
  /** Size of the large-body case in bytes. Default 64 MiB. */
  readonly largeBodyBytes?: number;
  /** Bucket for the protocol cases (created on first use by the emulator). Default `conformance-bucket`. */
  readonly bucket?: string;
}

/** One conformance check, runnable by any test harness: `run()` rejects with a descriptive error on failure. */
export interface ConformanceCase {
  /** What the case checks, as a test name. */
  readonly name: string;
  /** A generous upper bound for `run()`, for the harness's per-test timeout. */
  readonly timeoutMs: number;
  /** Runs the check against the live server; rejects when the transport misbehaves. */
  run(): Promise<void>;
}

/** A case failure: the message names the rule and what came instead. */
export class ConformanceFailure extends Error {
  /** @param message - the rule broken and what was observed. */
  constructor(message: string) {
    super(`transport conformance: ${message}`);
    this.name = "ConformanceFailure";
  }
}

/** Throws a {@link ConformanceFailure}. */
export function fail(message: string): never {
  throw new ConformanceFailure(message);
}

/** An auth source that counts its calls, can refresh (changing the token) and can be made to fail. */
export class ConformanceAuth implements AuthHeaderSource {
  /** Calls of `getRequestHeaders`. */
  calls = 0;
  /** Calls of `refresh`. */
  refreshes = 0;
  /** When set, `getRequestHeaders` rejects with this reason. */
  failure: string | undefined;
  /** Return a WHATWG `Headers` (as google-auth-library does) instead of a plain record. */
  asHeadersObject = false;
  readonly #token: string;

  constructor(token: string) {
    this.#token = token;
  }

  /** The bearer token currently handed out (it changes on refresh). */
  token(): string {
    return `${this.#token}-${this.refreshes + 1}`;
  }

  getRequestHeaders(): Promise<Record<string, string> | Headers> {
    this.calls += 1;
    if (this.failure !== undefined) return Promise.reject(new Error(this.failure));
    // Mixed-case names on purpose: merging them is the transport's job (see `mergeHeaders`).
    const record = { Authorization: `Bearer ${this.token()}`, "X-Goog-User-Project": "conformance-project" };
    return Promise.resolve(this.asHeadersObject && typeof Headers === "function" ? new Headers(record) : record);
  }

  refresh(): Promise<void> {
    this.refreshes += 1;
    return Promise.resolve();
  }
}

function randomTag(): string {
  return Math.random().toString(36).slice(2, 12);
}

/** Per-run state shared by the cases of one {@link conformanceCases} call. */
export class Harness {
  /** An upload id no error message may contain. */
  readonly uploadId = `conformanceUploadId${randomTag()}${randomTag()}`;
  /** The start of a bearer token no error message may contain. */
  readonly tokenPrefix = `ya29.conformanceToken${randomTag()}`;
  readonly options: ConformanceOptions;
  #server: Promise<ConformanceServerInfo> | undefined;
  #ids = 0;
  readonly #runTag = randomTag();

  constructor(options: ConformanceOptions) {
    this.options = options;
  }

  /** The server's addresses (resolved once). */
  server(): Promise<ConformanceServerInfo> {
    const { server } = this.options;
    this.#server ??= Promise.resolve(typeof server === "function" ? server() : server);
    return this.#server;
  }

  /** A fresh request id for the server's records. */
  nextId(): string {
    this.#ids += 1;
    return `${this.#runTag}-${this.#ids}`;
  }

  /** A synthetic-route URL carrying a request id and the secret upload id. */
  async url(route: string, params: Record<string, string | readonly string[]> = {}, id = this.nextId()): Promise<{ url: string; id: string }> {
    const { url } = await this.server();
    const query = new URLSearchParams({ id, upload_id: this.uploadId });
    for (const [name, value] of Object.entries(params)) {
      for (const one of typeof value === "string" ? [value] : value) query.append(name, one);
    }
    return { url: `${url}${route}?${query.toString()}`, id };
  }

  /** Runs `body` with a fresh transport and auth source, closing the transport afterwards. */
  async withTransport(body: (transport: Transport, auth: ConformanceAuth) => Promise<void>): Promise<void> {
    const auth = new ConformanceAuth(this.tokenPrefix);
    const transport = await this.options.makeTransport({ auth });
    try {
      await body(transport, auth);
    } catch (error) {
      if (error instanceof ConformanceFailure) throw error;
      // The transport rejected where the case expected a response: report it without its secrets.
      const detail = error instanceof TransportError ? `TransportError kind "${error.kind}"` : error instanceof Error ? error.name : typeof error;
      fail(`the transport rejected unexpectedly (${detail}: ${this.scrub(error instanceof Error ? error.message : String(error))})`);
    } finally {
      await transport.close?.();
    }
  }

  /** The server's record of request `id` (read with the runtime's own fetch, not the transport under test). */
  async record(id: string): Promise<RequestRecord> {
    const { url } = await this.server();
    const response = await fetch(`${url}${routes.record}?id=${encodeURIComponent(id)}`);
    if (!response.ok) fail(`reading the server's record of ${id}: status ${response.status}`);
    return (await response.json()) as RequestRecord;
  }

  /** Lets the server read request `id` again after a `during-body` stall. */
  async release(id: string): Promise<void> {
    const { url } = await this.server();
    const response = await fetch(`${url}${routes.release}?id=${encodeURIComponent(id)}`, { method: "POST" });
    if (response.status !== 204) fail(`releasing the stalled request ${id}: status ${response.status}`);
  }

  /** Polls the record of `id` until `done(record)` holds (about 15 s at most), failing with `what`. */
  async waitFor(id: string, what: string, done: (record: RequestRecord) => boolean): Promise<RequestRecord> {
    for (let attempt = 0; attempt < 750; attempt += 1) {
      const record = await this.record(id);
      if (done(record)) return record;
      await delay(20);
    }
    return fail(`${what}: the server never saw it (last record ${JSON.stringify(await this.record(id))})`);
  }

  /**
   * Rejects with a {@link ConformanceFailure} unless `outcome` rejects with a `TransportError` of one
   * of `kinds` whose messages (its own and its causes') reveal no token and no upload id.
   */
  async expectRejection(outcome: Promise<unknown>, kinds: readonly TransportError["kind"][], what: string, moreSecrets: readonly string[] = []): Promise<TransportError> {
    let error: unknown;
    try {
      const response = (await outcome) as TransportResponse | undefined;
      return fail(`${what}: expected a rejection (kind ${kinds.join(" or ")}), but it resolved with status ${response?.status}`);
    } catch (caught) {
      if (caught instanceof ConformanceFailure) throw caught;
      error = caught;
    }
    if (!(error instanceof TransportError)) {
      const name = error instanceof Error ? `${error.name}: ${this.scrub(error.message)}` : typeof error;
      return fail(`${what}: a transport rejects only with core's TransportError, got ${name}`);
    }
    if (!kinds.includes(error.kind)) fail(`${what}: expected kind ${kinds.join(" or ")}, got "${error.kind}" (${this.scrub(error.message)})`);
    this.expectNoSecret(error, what, moreSecrets);
    return error;
  }

  /** Fails when `error` (or any error in its `cause` chain) mentions the token, the upload id or one of `moreSecrets`. */
  expectNoSecret(error: unknown, what: string, moreSecrets: readonly string[] = []): void {
    let current: unknown = error;
    for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth += 1) {
      const texts = current instanceof Error ? [current.message, current.stack ?? ""] : [describeValue(current)];
      for (const text of texts) {
        if (text.includes(this.uploadId)) fail(`${what}: an error message${depth > 0 ? ` (cause ${depth})` : ""} contains the upload id`);
        if (text.includes(this.tokenPrefix)) fail(`${what}: an error message${depth > 0 ? ` (cause ${depth})` : ""} contains the bearer token`);
        if (moreSecrets.some((secret) => secret !== "" && text.includes(secret))) fail(`${what}: an error message${depth > 0 ? ` (cause ${depth})` : ""} contains a session's upload id`);
      }
      current = current instanceof Error ? current.cause : undefined;
    }
  }

  /** Removes the secrets from text quoted in a failure message (the suite must not leak them either). */
  scrub(text: string): string {
    return text.replaceAll(this.uploadId, "<upload id>").replaceAll(this.tokenPrefix, "<token>");
  }
}

/** Text of a non-Error cause (an object is serialised: a cause holding a request config holds its URL and headers). */
function describeValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return `${value}`;
  try {
    return JSON.stringify(value) ?? "";
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What {@link send} accepts: a request without the derived `bodyLength`, and optional send options. */
export interface SendInput {
  readonly method: TransportRequest["method"];
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: readonly Uint8Array[];
  readonly signal?: TransportSendOptions["signal"];
  readonly credentials?: boolean;
  readonly refreshCredentials?: boolean;
  readonly maxResponseBytes?: number;
  readonly onUploadProgress?: (bytesSent: number) => void;
}

/**
 * Sends as the driver does: lower-case headers, `content-length` whenever there is a body or the
 * method is PUT/POST, `credentials: false` and the default response limit unless asked otherwise.
 */
export function send(transport: Transport, input: SendInput): Promise<TransportResponse> {
  const body = input.body ?? [];
  const bodyLength = body.reduce((sum, view) => sum + view.byteLength, 0);
  const headers: Record<string, string> = { ...input.headers };
  if (bodyLength > 0 || input.method === "PUT" || input.method === "POST") headers["content-length"] = String(bodyLength);
  const options: TransportSendOptions = {
    signal: input.signal ?? new AbortController().signal,
    credentials: input.credentials ?? false,
    maxResponseBytes: input.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    ...(input.refreshCredentials === undefined ? {} : { refreshCredentials: input.refreshCredentials }),
    ...(input.onUploadProgress === undefined ? {} : { onUploadProgress: input.onUploadProgress }),
  };
  return transport.send({ method: input.method, url: input.url, headers, body, bodyLength }, options);
}

/** Fails unless `response` has `status`. */
export function expectStatus(response: TransportResponse, status: number, what: string): void {
  if (response.status !== status) fail(`${what}: expected status ${status}, got ${response.status} (${response.body.slice(0, 200)})`);
}

/** Fails unless every response header name is lower-case. */
export function expectLowerCaseNames(response: TransportResponse, what: string): void {
  for (const name of Object.keys(response.headers)) {
    if (name !== name.toLowerCase()) fail(`${what}: response header names must be lower-case, got "${name}"`);
  }
}

/** UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
