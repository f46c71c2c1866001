/**
 * An in-memory model of the GCS resumable-upload server, implementing {@link Transport}, for tests
 * that need no sockets. It is strict where the protocol is (docs/protocol.md): it persists at 256 KiB
 * granularity, answers `Range` exactly, finalizes only on a request stating the total, checks
 * `X-Goog-Hash`, and records every client mistake in `violations` instead of hiding it. Faults are
 * scheduled per request: drops, resets, short acknowledgements, 5xx, lost final responses, stalls.
 *
 * `handle()` is synchronous (for tests that drive the machine step by step); `send()` wraps it in a
 * promise answered on a later microtask, honouring the abort signal (for driver tests).
 */
import { decodeBase64, encodeBase64 } from "../base64.js";
import type { Checksum } from "../checksum.js";
import { decodeUtf8 } from "../utf8.js";
import { TRANSPORT_SPECIFICATION_VERSION, TransportError, type Transport, type TransportRequest, type TransportResponse, type TransportSendOptions } from "../transport.js";
import { crc32c } from "./crc32c.js";

/** The persistence granularity of GCS: 256 KiB. */
const GRANULARITY = 262_144;

/** A fault injected into one request. `afterBytes`: how much of the body arrives before it strikes. */
export type ModelFault =
  /** Answer this status (with a JSON error body) after persisting the 256 KiB-aligned part of `afterBytes`. */
  | { readonly kind: "status"; readonly status: number; readonly afterBytes?: number; readonly message?: string }
  /** Cut the connection after persisting the aligned part of `afterBytes`: the transport rejects. */
  | { readonly kind: "reset"; readonly afterBytes?: number }
  /** Keep only the aligned part of `keepBytes` of this chunk and answer 308 (never finalizes). */
  | { readonly kind: "short-ack"; readonly keepBytes: number }
  /** Process the request fully (it may finalize the object), then lose the response: rejects. */
  | { readonly kind: "lose-response" }
  /** Process fully, then cut the response body short: rejects with kind `truncated`. */
  | { readonly kind: "truncate" }
  /**
   * Process fully, then answer a complete message whose body is cut after `keepBytes` characters
   * (a proxy that truncates with a matching Content-Length): a final object's JSON arrives cut.
   */
  | { readonly kind: "cut-body"; readonly keepBytes: number }
  /** Persist the aligned part of `afterBytes`, then hang until the request is aborted. */
  | { readonly kind: "stall"; readonly afterBytes?: number };

/** What kind of request the model saw. */
export type ModelRequestType = "start" | "chunk" | "query" | "cancel" | "other";

/** The request a fault schedule is asked about. */
export interface ModelRequestInfo {
  /** 0-based index of the request among all requests this model received. */
  readonly index: number;
  /** What kind of request it is. */
  readonly type: ModelRequestType;
  /** The request as sent. */
  readonly request: TransportRequest;
}

/** Decides the fault for each request (or none). An array is indexed by request index. */
export type FaultSchedule = ((info: ModelRequestInfo) => ModelFault | undefined | null) | readonly (ModelFault | undefined | null)[];

/** Options of {@link GcsModel}. */
export interface GcsModelOptions {
  /** Faults to inject. */
  readonly faults?: FaultSchedule;
  /** Keep object content in memory (default true). False for long uploads: only sizes and checksums. */
  readonly keepContent?: boolean;
  /**
   * Compute CRC32C of persisted bytes (default true): the object's `crc32c` and the X-Goog-Hash
   * check. A function is used as the implementation (e.g. a native one for long benchmarks);
   * `false` leaves objects without `crc32c`, as a server that does not state it.
   */
  readonly crc32c?: boolean | ((bytes: Uint8Array, initial: number) => number);
  /** An MD5 implementation, to fill `md5Hash` and check `md5=` in X-Goog-Hash. */
  readonly md5?: () => Checksum;
}

/** How the model answered one request. */
export type ModelOutcome =
  | { readonly type: "response"; readonly response: TransportResponse }
  | { readonly type: "error"; readonly kind: "network" | "truncated" }
  | { readonly type: "stall" };

/** One line of the model's log. */
export interface ModelLogEntry {
  /** 0-based index of the request. */
  readonly index: number;
  /** What kind of request it was. */
  readonly type: ModelRequestType;
  /** HTTP method. */
  readonly method: string;
  /** Its Content-Range header, if any. */
  readonly contentRange?: string;
  /** Body bytes sent. */
  readonly bodyLength: number;
  /** The fault injected into it, if any. */
  readonly fault?: ModelFault["kind"];
  /** The status answered, or the failure kind. */
  readonly outcome: number | "network" | "truncated" | "stall";
  /** The session's persisted offset after the request. */
  readonly persisted?: number;
}

/** A session as the model keeps it. */
export interface ModelSession {
  /** The upload id. */
  readonly id: string;
  /** The session URI handed out. */
  readonly uri: string;
  /** Started through the JSON API or a signed URL (XML API). */
  readonly api: "json" | "xml";
  /** Target bucket. */
  readonly bucket: string;
  /** Target object name. */
  readonly name: string;
  /** The object resource given at start. */
  readonly resource: Readonly<Record<string, unknown>>;
  /** `X-Upload-Content-Length`, if given. */
  readonly declaredTotal: number | undefined;
  /** The CSEK hash the session was started with; every request must repeat it. */
  readonly encryptionKeySha256: string | undefined;
  /** Persisted bytes: never decreases. */
  persisted: number;
  /** Every persisted offset this session reported, in order (for monotonicity checks). */
  readonly history: number[];
  /** The total once a request stated it. */
  total: number | undefined;
  /** Where the session stands. */
  state: "active" | "final" | "deleted" | "expired";
  /** Running CRC32C of the persisted bytes. */
  crc: number;
  /** Running MD5 of the persisted bytes, when the model computes MD5. */
  md5: Checksum | undefined;
  /** Copies of the persisted bytes (when the model keeps content). */
  readonly parts: Uint8Array[];
  /** The object resource once final. */
  object: Record<string, unknown> | undefined;
}

/** A stored object. */
export interface ModelObject {
  /** Its object resource, as the final answer carried it. */
  readonly resource: Readonly<Record<string, unknown>>;
  /** The content, when the model keeps content. */
  readonly content: Uint8Array | undefined;
}

/** The rejection a model transport produces: a {@link TransportError} (`network`, `truncated` or `aborted`). */
export class ModelTransportError extends TransportError {
  constructor(kind: "network" | "truncated" | "aborted", message: string) {
    super(kind, message);
    this.name = "ModelTransportError";
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): ModelOutcome {
  return { type: "response", response: { status, headers: { "content-type": "application/json; charset=UTF-8", ...headers }, body: JSON.stringify(body) } };
}

function errorResponse(status: number, message: string): ModelOutcome {
  return json(status, { error: { code: status, message, errors: [{ message, reason: "modelError" }] } });
}

function concat(views: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let o = 0;
  for (const v of views) {
    out.set(v.subarray(0, Math.min(v.length, length - o)), o);
    o += v.length;
    if (o >= length) break;
  }
  return out;
}

function queryParams(url: string): Map<string, string> {
  const params = new Map<string, string>();
  const question = url.indexOf("?");
  if (question === -1) return params;
  for (const pair of url.slice(question + 1).split("&")) {
    const eq = pair.indexOf("=");
    const key = decodeURIComponent(eq === -1 ? pair : pair.slice(0, eq));
    params.set(key, eq === -1 ? "" : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, " ")));
  }
  return params;
}

function crcBase64(value: number): string {
  return encodeBase64(new Uint8Array([value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]));
}

/** The in-memory GCS. See the module header. */
export class GcsModel implements Transport {
  /** Transport contract version 2. */
  readonly specificationVersion = TRANSPORT_SPECIFICATION_VERSION;
  /** The model reports the bytes that arrived as upload progress. */
  readonly capabilities = { uploadProgress: true } as const;
  /** Every request, in order. */
  readonly log: ModelLogEntry[] = [];
  /** Client mistakes the model noticed (a conforming client leaves this empty). */
  readonly violations: string[] = [];
  readonly #sessions = new Map<string, ModelSession>();
  readonly #objects = new Map<string, ModelObject>();
  readonly #options: GcsModelOptions;
  #requests = 0;
  #generation = 1_700_000_000_000_000;

  constructor(options: GcsModelOptions = {}) {
    this.#options = options;
  }

  /** Requests received so far. */
  get requestCount(): number {
    return this.#requests;
  }

  /** All sessions, in creation order. */
  get sessions(): readonly ModelSession[] {
    return [...this.#sessions.values()];
  }

  /** The session for a session URI (or upload id). */
  session(uriOrId: string): ModelSession | undefined {
    return this.#sessions.get(queryParams(uriOrId).get("upload_id") ?? uriOrId);
  }

  /** A stored object. */
  object(bucket: string, name: string): ModelObject | undefined {
    return this.#objects.get(`${bucket}/${name}`);
  }

  /** Stores an object directly (to test preconditions). */
  putObject(bucket: string, name: string, content: Uint8Array): ModelObject {
    const object: ModelObject = {
      resource: { bucket, name, size: String(content.length), generation: String(this.#generation++), metageneration: "1", crc32c: crcBase64(crc32c(content)) },
      content,
    };
    this.#objects.set(`${bucket}/${name}`, object);
    return object;
  }

  /** Makes a session behave as expired (410) from now on. */
  expire(uriOrId: string): void {
    const session = this.session(uriOrId);
    if (session !== undefined) session.state = "expired";
  }

  /** Creates a session directly, as a server minting one for a browser would; returns its URI. */
  createSession(bucket: string, name: string, options: { declaredTotal?: number; api?: "json" | "xml" } = {}): string {
    return this.#newSession(options.api ?? "json", "https://storage.googleapis.com", bucket, name, { name }, options.declaredTotal, undefined).uri;
  }

  /** {@link Transport.send}: answers on a later microtask; honours the abort signal. */
  send(request: TransportRequest, options: TransportSendOptions): Promise<TransportResponse> {
    return new Promise<TransportResponse>((resolve, reject) => {
      const signal = options.signal;
      if (signal.aborted) {
        reject(new ModelTransportError("aborted", "aborted before it was sent"));
        return;
      }
      void Promise.resolve().then(() => {
        if (signal.aborted) {
          reject(new ModelTransportError("aborted", "aborted before it was sent"));
          return;
        }
        const outcome = this.handle(request);
        const entry = this.log[this.log.length - 1];
        if (request.bodyLength > 0 && entry !== undefined) {
          // Report the bytes that "left" (all of them, or as many as arrived before a fault).
          const fault = this.#lastFault;
          const arrived = fault !== undefined && "afterBytes" in fault ? Math.min(fault.afterBytes ?? 0, request.bodyLength) : request.bodyLength;
          if (arrived > 0) options.onUploadProgress?.(arrived);
        }
        switch (outcome.type) {
          case "response":
            resolve(outcome.response);
            return;
          case "error":
            reject(new ModelTransportError(outcome.kind, outcome.kind === "truncated" ? "response body cut short" : "connection reset"));
            return;
          case "stall":
            signal.addEventListener("abort", () => reject(new ModelTransportError("aborted", "stalled request aborted")), { once: true });
            return;
        }
      });
    });
  }

  #lastFault: ModelFault | undefined;

  /** Processes one request synchronously and says how it ended. */
  handle(request: TransportRequest): ModelOutcome {
    const index = this.#requests++;
    const type = this.#typeOf(request);
    const schedule = this.#options.faults;
    const fault = (typeof schedule === "function" ? schedule({ index, type, request }) : schedule?.[index]) ?? undefined;
    this.#lastFault = fault;
    const actualLength = request.body.reduce((n, v) => n + v.length, 0);
    if (actualLength !== request.bodyLength) this.violations.push(`request ${index}: bodyLength ${request.bodyLength} but the views hold ${actualLength} bytes`);
    const declared = request.headers["content-length"];
    if (declared !== undefined && Number(declared) !== request.bodyLength) {
      this.violations.push(`request ${index}: content-length ${declared} but the body is ${request.bodyLength} bytes`);
    }
    let outcome: ModelOutcome;
    let session: ModelSession | undefined;
    switch (type) {
      case "start":
        outcome = this.#start(request, fault);
        break;
      case "chunk":
      case "query":
        session = this.session(request.url);
        outcome = this.#put(index, request, fault, session);
        break;
      case "cancel":
        session = this.session(request.url);
        outcome = this.#delete(request, fault, session);
        break;
      default:
        outcome = errorResponse(405, `the model does not serve ${request.method} ${request.url}`);
    }
    if (session !== undefined && session.history[session.history.length - 1] !== session.persisted) session.history.push(session.persisted);
    this.log.push({
      index,
      type,
      method: request.method,
      bodyLength: request.bodyLength,
      outcome: outcome.type === "response" ? outcome.response.status : outcome.type === "error" ? outcome.kind : "stall",
      ...(request.headers["content-range"] === undefined ? {} : { contentRange: request.headers["content-range"] }),
      ...(fault === undefined ? {} : { fault: fault.kind }),
      ...(session === undefined ? {} : { persisted: session.persisted }),
    });
    return outcome;
  }

  #typeOf(request: TransportRequest): ModelRequestType {
    if (request.method === "POST") return "start";
    if (request.method === "DELETE") return "cancel";
    if (request.method === "PUT") return request.bodyLength === 0 && /^bytes \*\//.test(request.headers["content-range"] ?? "") ? "query" : "chunk";
    return "other";
  }

  #newSession(
    api: "json" | "xml",
    origin: string,
    bucket: string,
    name: string,
    resource: Record<string, unknown>,
    declaredTotal: number | undefined,
    keySha: string | undefined,
  ): ModelSession {
    const n = this.#sessions.size + 1;
    const id = `MdL${String(n).padStart(5, "0")}x${(n * 2654435761) >>> 0}zQ`;
    const uri =
      api === "json"
        ? `${origin}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`
        : `${origin}/${encodeURIComponent(bucket)}/${name.split("/").map(encodeURIComponent).join("/")}?upload_id=${id}`;
    const session: ModelSession = {
      id,
      uri,
      api,
      bucket,
      name,
      resource,
      declaredTotal,
      encryptionKeySha256: keySha,
      persisted: 0,
      history: [0],
      total: declaredTotal,
      state: "active",
      crc: 0,
      md5: this.#options.md5?.(),
      parts: [],
      object: undefined,
    };
    this.#sessions.set(id, session);
    return session;
  }

  #start(request: TransportRequest, fault: ModelFault | undefined): ModelOutcome {
    if (fault?.kind === "status") return errorResponse(fault.status, fault.message ?? `injected ${fault.status}`);
    if (fault?.kind === "reset" || fault?.kind === "stall") return fault.kind === "stall" ? { type: "stall" } : { type: "error", kind: "network" };
    const keySha = request.headers["x-goog-encryption-key-sha256"];
    const match = /^(https?:\/\/[^/]+)(\/[^?]*)/.exec(request.url);
    if (match === null) return errorResponse(400, "malformed URL");
    const [, origin, path] = match as unknown as [string, string, string];
    const totalHeader = request.headers["x-upload-content-length"];
    const declaredTotal = totalHeader === undefined ? undefined : Number(totalHeader);
    if (declaredTotal !== undefined && !Number.isSafeInteger(declaredTotal)) return errorResponse(400, "malformed X-Upload-Content-Length");
    let outcome: ModelOutcome;
    if (request.headers["x-goog-resumable"] === "start") {
      const parts = path.split("/").filter((p) => p !== "");
      if (parts.length < 2) return errorResponse(400, "signed URL must name /bucket/object");
      const bucket = decodeURIComponent(parts[0]!);
      const name = parts.slice(1).map(decodeURIComponent).join("/");
      const resource: Record<string, unknown> = { name };
      if (request.headers["content-type"] !== undefined) resource.contentType = request.headers["content-type"];
      const session = this.#newSession("xml", origin, bucket, name, resource, declaredTotal, keySha);
      outcome = { type: "response", response: { status: 201, headers: { location: session.uri }, body: "" } };
    } else {
      const pathMatch = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
      if (pathMatch === null) return errorResponse(404, `no such endpoint ${path}`);
      const bucket = decodeURIComponent(pathMatch[1]!);
      const params = queryParams(request.url);
      if (params.get("uploadType") !== "resumable") return errorResponse(400, "uploadType must be resumable");
      const name = params.get("name");
      if (name === undefined || name === "") return errorResponse(400, "name is required");
      if (!/^application\/json/.test(request.headers["content-type"] ?? "")) return errorResponse(400, "start body must be JSON");
      let resource: Record<string, unknown>;
      try {
        resource = JSON.parse(decodeUtf8(concat(request.body, request.bodyLength))) as Record<string, unknown>;
      } catch {
        return errorResponse(400, "start body is not JSON");
      }
      if (resource.name !== undefined && resource.name !== name) return errorResponse(400, "name in body differs from the query");
      const existing = this.#objects.get(`${bucket}/${name}`);
      const ifGenerationMatch = params.get("ifGenerationMatch");
      if (ifGenerationMatch !== undefined) {
        const live = existing === undefined ? "0" : String(existing.resource.generation);
        if (live !== ifGenerationMatch) return errorResponse(412, "At least one of the pre-conditions you specified did not hold.");
      }
      const session = this.#newSession("json", origin, bucket, name, { ...resource, name }, declaredTotal, keySha);
      outcome = { type: "response", response: { status: 200, headers: { location: session.uri }, body: "" } };
    }
    if (fault?.kind === "lose-response") return { type: "error", kind: "network" };
    if (fault?.kind === "truncate") return { type: "error", kind: "truncated" };
    return outcome;
  }

  #range(session: ModelSession): Record<string, string> {
    return session.persisted === 0 ? {} : { range: `bytes=0-${session.persisted - 1}` };
  }

  #finalResponse(session: ModelSession): ModelOutcome {
    const object = session.object!;
    if (session.api === "json") return json(200, object);
    const crc = object.crc32c as string | undefined;
    const md5 = object.md5Hash as string | undefined;
    const hash = [...(crc === undefined ? [] : [`crc32c=${crc}`]), ...(md5 === undefined ? [] : [`md5=${md5}`])].join(",");
    return {
      type: "response",
      response: {
        status: 200,
        headers: {
          "x-goog-generation": String(object.generation),
          "x-goog-metageneration": "1",
          "x-goog-stored-content-length": String(object.size),
          "x-goog-hash": hash,
        },
        body: "",
      },
    };
  }

  /** Appends bytes [session.persisted, upTo) taken from a request body starting at `first`. */
  #persist(session: ModelSession, request: TransportRequest, first: number, upTo: number): void {
    if (upTo <= session.persisted) return;
    const keep = this.#options.keepContent !== false;
    const crcOption = this.#options.crc32c;
    const crcOf = crcOption === false ? undefined : typeof crcOption === "function" ? crcOption : crc32c;
    // Walk the body's views: checksums read them in place; only kept content is copied (the client
    // may reuse its buffers once they are acknowledged, as a real server's memory is its own).
    let position = first;
    for (const view of request.body) {
      const start = position;
      position += view.length;
      if (position <= session.persisted) continue;
      if (start >= upTo) break;
      const part = view.subarray(Math.max(session.persisted, start) - start, Math.min(upTo, position) - start);
      if (crcOf !== undefined) session.crc = crcOf(part, session.crc) >>> 0;
      session.md5?.update(part);
      if (keep) session.parts.push(part.slice());
    }
    session.persisted = upTo;
  }

  #finalize(session: ModelSession, request: TransportRequest): ModelOutcome | undefined {
    const hash = request.headers["x-goog-hash"];
    const crcText = this.#options.crc32c === false ? undefined : crcBase64(session.crc);
    const md5Text = session.md5 === undefined ? undefined : encodeBase64(session.md5.clone().digest());
    if (hash !== undefined) {
      for (const part of hash.split(",")) {
        const eq = part.indexOf("=");
        const key = part.slice(0, eq).trim();
        const value = part.slice(eq + 1).trim();
        if (decodeBase64(value) === undefined) return errorResponse(400, `malformed X-Goog-Hash value for ${key}`);
        if (key === "crc32c" && crcText !== undefined && value !== crcText) {
          return errorResponse(400, `Provided CRC32C "${value}" doesn't match calculated CRC32C "${crcText}".`);
        }
        if (key === "md5" && md5Text !== undefined && value !== md5Text) {
          return errorResponse(400, `Provided MD5 hash "${value}" doesn't match calculated MD5 hash "${md5Text}".`);
        }
      }
    }
    const total = session.persisted;
    const content = this.#options.keepContent === false ? undefined : concat(session.parts, total);
    const resource: Record<string, unknown> = {
      kind: "storage#object",
      ...session.resource,
      name: session.name,
      bucket: session.bucket,
      generation: String(this.#generation++),
      metageneration: "1",
      size: String(total),
      ...(crcText === undefined ? {} : { crc32c: crcText }),
      ...(md5Text === undefined ? {} : { md5Hash: md5Text }),
    };
    if (resource.contentType === undefined) resource.contentType = "application/octet-stream";
    session.object = resource;
    session.state = "final";
    session.total = total;
    session.parts.length = 0;
    this.#objects.set(`${session.bucket}/${session.name}`, { resource, content });
    return undefined;
  }

  #put(index: number, request: TransportRequest, fault: ModelFault | undefined, session: ModelSession | undefined): ModelOutcome {
    if (session === undefined || session.state === "deleted") return errorResponse(404, "No such upload.");
    if (session.state === "expired") return errorResponse(410, "The upload session has expired.");
    if (request.headers["x-goog-encryption-key-sha256"] !== session.encryptionKeySha256) {
      this.violations.push(`request ${index}: encryption key headers differ from the session's`);
      return errorResponse(400, "The provided encryption key does not match the session's.");
    }
    // A fault that strikes before any body byte arrives (or on a bodiless request) changes nothing.
    const before = request.bodyLength === 0 || (fault !== undefined && "afterBytes" in fault && (fault.afterBytes ?? 0) === 0);
    if (fault?.kind === "status" && before) return errorResponse(fault.status, fault.message ?? `injected ${fault.status}`);
    if (fault?.kind === "reset" && before) return { type: "error", kind: "network" };
    if (fault?.kind === "stall" && before) return { type: "stall" };
    const after = (outcome: ModelOutcome): ModelOutcome => {
      if (fault?.kind === "lose-response") return { type: "error", kind: "network" };
      if (fault?.kind === "truncate") return { type: "error", kind: "truncated" };
      if (fault?.kind === "cut-body" && outcome.type === "response") {
        return { type: "response", response: { ...outcome.response, body: outcome.response.body.slice(0, fault.keepBytes) } };
      }
      return outcome;
    };
    if (session.state === "final") return after(this.#finalResponse(session));

    const range = request.headers["content-range"] ?? "";
    const query = /^bytes \*\/(\*|\d+)$/.exec(range);
    const chunk = /^bytes (\d+)-(\d+)\/(\*|\d+)$/.exec(range);
    if (query === null && chunk === null) {
      this.violations.push(`request ${index}: malformed Content-Range "${range}"`);
      return errorResponse(400, `malformed Content-Range "${range}"`);
    }
    const totalText = (query ?? chunk)![query === null ? 3 : 1]!;
    const total = totalText === "*" ? undefined : Number(totalText);
    if (total !== undefined && session.total !== undefined && total !== session.total) {
      this.violations.push(`request ${index}: total ${total} differs from the session's ${session.total}`);
      return errorResponse(400, `total size ${total} differs from the declared ${session.total}`);
    }
    if (query !== null) {
      if (request.bodyLength !== 0) this.violations.push(`request ${index}: "${range}" with a body`);
      if (total !== undefined && total < session.persisted) {
        this.violations.push(`request ${index}: total ${total} below the persisted ${session.persisted}`);
        return errorResponse(400, `total ${total} is below the ${session.persisted} bytes already persisted`);
      }
      if (total !== undefined && total === session.persisted) {
        const refused = this.#finalize(session, request);
        return after(refused ?? this.#finalResponse(session));
      }
      return after({ type: "response", response: { status: 308, headers: this.#range(session), body: "" } });
    }

    const first = Number(chunk![1]);
    const last = Number(chunk![2]);
    const length = last - first + 1;
    if (length <= 0 || length !== request.bodyLength) {
      this.violations.push(`request ${index}: Content-Range "${range}" does not match a ${request.bodyLength}-byte body`);
      return errorResponse(400, "Content-Range does not match the body");
    }
    if (total !== undefined && last + 1 > total) {
      this.violations.push(`request ${index}: "${range}" goes beyond its total`);
      return errorResponse(400, "range beyond the total");
    }
    if (first > session.persisted) {
      this.violations.push(`request ${index}: "${range}" leaves a gap after the ${session.persisted} persisted bytes`);
      return errorResponse(400, `expected the chunk to start at or before ${session.persisted}`);
    }
    if (first < session.persisted) {
      this.violations.push(`request ${index}: "${range}" resends bytes below the persisted offset ${session.persisted}`);
    }
    const final = total !== undefined && last + 1 === total;
    if (!final && length % GRANULARITY !== 0) {
      this.violations.push(`request ${index}: non-final chunk of ${length} bytes is not a multiple of 256 KiB`);
      if (length < GRANULARITY) return errorResponse(400, "Invalid request. The number of bytes uploaded is required to be equal or greater than 262144, except for the final request.");
    }
    // How much of the body arrives before the fault (if any) strikes.
    let arrived = length;
    if (fault !== undefined && "afterBytes" in fault) arrived = Math.min(length, fault.afterBytes ?? 0);
    if (fault?.kind === "short-ack") arrived = Math.min(length, fault.keepBytes);
    const complete = arrived === length;
    const end = first + arrived;
    // Only whole 256 KiB units persist, except the very end of a completely received final chunk.
    const persistable = complete && final ? end : Math.floor(end / GRANULARITY) * GRANULARITY;
    this.#persist(session, request, first, persistable);

    if (fault?.kind === "status") return errorResponse(fault.status, fault.message ?? `injected ${fault.status}`);
    if (fault?.kind === "reset") return { type: "error", kind: "network" };
    if (fault?.kind === "stall") return { type: "stall" };
    if (final && complete && fault?.kind !== "short-ack") {
      if (session.declaredTotal !== undefined && total !== session.declaredTotal) return errorResponse(400, "size differs from X-Upload-Content-Length");
      const refused = this.#finalize(session, request);
      return after(refused ?? this.#finalResponse(session));
    }
    return after({ type: "response", response: { status: 308, headers: this.#range(session), body: "" } });
  }

  #delete(request: TransportRequest, fault: ModelFault | undefined, session: ModelSession | undefined): ModelOutcome {
    if (fault?.kind === "status") return errorResponse(fault.status, fault.message ?? `injected ${fault.status}`);
    if (fault?.kind === "reset") return { type: "error", kind: "network" };
    if (session === undefined || session.state === "deleted" || session.state === "expired") return errorResponse(404, "No such upload.");
    if (request.headers["x-goog-encryption-key-sha256"] !== session.encryptionKeySha256) {
      this.violations.push("DELETE: encryption key headers differ from the session's");
    }
    // GCS answers the DELETE of a session it already finalized with the object: it exists.
    if (session.state === "final") return this.#finalResponse(session);
    session.state = "deleted";
    session.parts.length = 0;
    const outcome: ModelOutcome = { type: "response", response: { status: 499, headers: {}, body: "" } };
    if (fault?.kind === "lose-response") return { type: "error", kind: "network" };
    return outcome;
  }
}
