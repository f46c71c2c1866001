/**
 * An in-memory model of GCS's XML multipart upload API (and the two JSON API object calls the
 * multipart engine makes), for tests that need no sockets. The sibling of `test-support/gcs-model.ts`.
 *
 * It is strict where GCS is: parts numbered 1–10,000; every part but the last at least 5 MiB at
 * complete (`EntityTooSmall`); the part list ascending with matching ETags (`InvalidPartOrder`,
 * `InvalidPart`); a part's `x-goog-hash` CRC32C and `Content-MD5` checked (`BadDigest`); the
 * completed object has a CRC32C and no MD5; the upload is forgotten once completed or aborted
 * (`NoSuchUpload`); `x-goog-if-generation-match` on complete. Client mistakes that GCS would not
 * catch but that break the engine's rules (a part resent after its ETag came back, a request for a
 * finished upload beyond the one lookup) go to `violations`.
 *
 * Faults are scheduled per request: a status, a reset before the request is processed, a lost
 * response after it was processed, a stall (the harness reports a timeout). `handle()` is synchronous.
 */
import { decodeBase64, encodeBase64 } from "../base64.js";
import type { Checksum } from "../checksum.js";
import type { TransportRequest, TransportResponse } from "../transport.js";
import { crc32c } from "../test-support/crc32c.js";
import { decodeUtf8 } from "../utf8.js";
import { escapeXml } from "./xml.js";

/** A fault injected into one request. */
export type XmlModelFault =
  /** Answer this status with an XML error, without processing the request. */
  | { readonly kind: "status"; readonly status: number }
  /** Cut the connection before processing: the request did nothing. */
  | { readonly kind: "reset" }
  /** Process the request fully (a part is stored, an upload completed), then lose the response. */
  | { readonly kind: "lose-response" }
  /** Hang until the caller gives up (reported as a timeout); nothing is processed. */
  | { readonly kind: "stall" }
  /** Process the request fully, then answer its status with only the first `bytes` of its body (a body cut behind a matching length). */
  | { readonly kind: "cut-body"; readonly bytes: number };

/** What the model was asked, for a fault schedule. */
export type XmlModelRequestType = "initiate" | "part" | "complete" | "abort" | "list" | "metadata" | "delete-object" | "other";

/** Decides the fault for each request (or none), by index among all requests and by type. */
export type XmlFaultSchedule = (info: { readonly index: number; readonly type: XmlModelRequestType; readonly request: TransportRequest }) => XmlModelFault | undefined | null;

/** Options of {@link XmlMultipartModel}. */
export interface XmlMultipartModelOptions {
  /** Faults to inject. */
  readonly faults?: XmlFaultSchedule;
  /** Put `x-goog-hash: crc32c=…` on the complete response (default true); false forces a metadata GET. */
  readonly hashOnComplete?: boolean;
  /** Parts per ListPartsResult page (default 1000). */
  readonly listPageSize?: number;
  /** MD5 implementation, to check `Content-MD5` on parts. */
  readonly md5?: () => Checksum;
  /** Store the object with this CRC32C instead of its real one (to test a mismatch after completion). */
  readonly corruptObjectCrc32c?: boolean;
  /** Smallest part but the last (default 5 MiB, GCS's). */
  readonly minPartSize?: number;
  /** CRC32C implementation (default: core's portable one; tests moving many megabytes inject a native one). */
  readonly crc32c?: (bytes: Uint8Array, initial?: number) => number;
}

/** How the model answered one request. */
export type XmlModelOutcome =
  | { readonly type: "response"; readonly response: TransportResponse }
  | { readonly type: "error"; readonly kind: "network" }
  | { readonly type: "stall" };

/** One line of the model's log. */
export interface XmlModelLogEntry {
  /** 0-based index among all requests. */
  readonly index: number;
  /** What the request was. */
  readonly type: XmlModelRequestType;
  /** The part number, for parts. */
  readonly partNumber?: number;
  /** Bytes in the request body. */
  readonly bodyLength: number;
  /** The fault injected, if any. */
  readonly fault?: XmlModelFault["kind"];
  /** The status answered, or how the request failed. */
  readonly outcome: number | "network" | "stall";
}

/** A part as the model stores it. */
export interface XmlModelStoredPart {
  /** The part's bytes (a copy). */
  readonly content: Uint8Array;
  /** The ETag answered for it, quoted. */
  readonly etag: string;
}

/** A multipart upload as the model keeps it. */
export interface XmlModelUpload {
  /** The upload id. */
  readonly id: string;
  /** Bucket name. */
  readonly bucket: string;
  /** Object name. */
  readonly name: string;
  /** The initiate request's headers (the object's metadata). */
  readonly headers: Readonly<Record<string, string>>;
  /** Stored parts by number. */
  readonly parts: Map<number, XmlModelStoredPart>;
  /** `active` until completed or aborted (only active uploads hold parts). */
  state: "active" | "completed" | "aborted";
}

/** A stored object. */
export interface XmlModelObject {
  /** The object resource (JSON API fields). */
  readonly resource: Readonly<Record<string, unknown>>;
  /** The object's bytes. */
  readonly content: Uint8Array;
}

/** Path and query of an absolute URL (core's build has no `URL` global: ES2022 only). */
function parseUrl(url: string): { readonly pathname: string; readonly search: string; readonly params: Map<string, string> } {
  const rest = url.replace(/^[a-z]+:\/\/[^/?#]*/i, "");
  const question = rest.indexOf("?");
  const pathname = question === -1 ? rest : rest.slice(0, question);
  const search = question === -1 ? "" : rest.slice(question);
  const params = new Map<string, string>();
  for (const pair of search.slice(1).split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    params.set(decodeURIComponent(eq === -1 ? pair : pair.slice(0, eq)), eq === -1 ? "" : decodeURIComponent(pair.slice(eq + 1)));
  }
  return { pathname: pathname === "" ? "/" : pathname, search, params };
}

function crcBase64(value: number): string {
  return encodeBase64(new Uint8Array([value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]));
}

function concat(views: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const v of views) length += v.length;
  const out = new Uint8Array(length);
  let o = 0;
  for (const v of views) {
    out.set(v, o);
    o += v.length;
  }
  return out;
}

function xmlResponse(status: number, body: string, headers: Record<string, string> = {}): XmlModelOutcome {
  return { type: "response", response: { status, headers: { "content-type": "application/xml; charset=UTF-8", ...headers }, body } };
}

function xmlErrorResponse(status: number, code: string, message: string): XmlModelOutcome {
  return xmlResponse(status, `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`);
}

function jsonResponse(status: number, body: unknown): XmlModelOutcome {
  return { type: "response", response: { status, headers: { "content-type": "application/json; charset=UTF-8" }, body: JSON.stringify(body) } };
}

/** The in-memory XML multipart API. See the module header. */
export class XmlMultipartModel {
  /** Every request, in order. */
  readonly log: XmlModelLogEntry[] = [];
  /** Client mistakes the model noticed (a conforming client leaves this empty). */
  readonly violations: string[] = [];
  /** Every multipart upload, by id. */
  readonly uploads = new Map<string, XmlModelUpload>();
  readonly #objects = new Map<string, XmlModelObject>();
  readonly #options: XmlMultipartModelOptions;
  #requests = 0;
  #uploadCounter = 0;
  #etagCounter = 0;
  #generation = 1_700_000_000_000_000;
  readonly #crc: (bytes: Uint8Array, initial?: number) => number;

  constructor(options: XmlMultipartModelOptions = {}) {
    this.#options = options;
    this.#crc = options.crc32c ?? crc32c;
  }

  /** A stored object. */
  object(bucket: string, name: string): XmlModelObject | undefined {
    return this.#objects.get(`${bucket}/${name}`);
  }

  /** Stores an object directly (to test preconditions). */
  putObject(bucket: string, name: string, content: Uint8Array): XmlModelObject {
    const object = { resource: { bucket, name, size: String(content.length), generation: String(this.#generation++), crc32c: crcBase64(this.#crc(content)) }, content };
    this.#objects.set(`${bucket}/${name}`, object);
    return object;
  }

  /** Uploads neither completed nor aborted (what would be billed). */
  get activeUploads(): XmlModelUpload[] {
    return [...this.uploads.values()].filter((u) => u.state === "active");
  }

  /** Answers one request synchronously. */
  handle(request: TransportRequest): XmlModelOutcome {
    const index = this.#requests++;
    const url = parseUrl(request.url);
    const params = url.params;
    const json = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
    let type: XmlModelRequestType = "other";
    if (json !== null) type = request.method === "GET" ? "metadata" : request.method === "DELETE" ? "delete-object" : "other";
    else if (request.method === "POST" && params.has("uploads")) type = "initiate";
    else if (request.method === "PUT" && params.has("partNumber")) type = "part";
    else if (request.method === "POST" && params.has("uploadId")) type = "complete";
    else if (request.method === "DELETE" && params.has("uploadId")) type = "abort";
    else if (request.method === "GET" && params.has("uploadId")) type = "list";
    const partNumber = type === "part" ? Number(params.get("partNumber")) : undefined;
    const fault = this.#options.faults?.({ index, type, request }) ?? undefined;
    const record = (outcome: XmlModelLogEntry["outcome"]): void => {
      this.log.push({ index, type, ...(partNumber === undefined ? {} : { partNumber }), bodyLength: request.bodyLength, ...(fault === undefined ? {} : { fault: fault.kind }), outcome });
    };
    if (request.headers["content-length"] !== String(request.bodyLength)) this.violations.push(`request ${index}: content-length ${request.headers["content-length"]} but a body of ${request.bodyLength}`);
    if (fault?.kind === "status") {
      record(fault.status);
      return xmlErrorResponse(fault.status, fault.status === 503 ? "ServiceUnavailable" : "InternalError", "injected fault");
    }
    if (fault?.kind === "reset") {
      record("network");
      return { type: "error", kind: "network" };
    }
    if (fault?.kind === "stall") {
      record("stall");
      return { type: "stall" };
    }
    const outcome = this.#process(type, request, url, json);
    if (fault?.kind === "lose-response") {
      record("network");
      return { type: "error", kind: "network" };
    }
    if (fault?.kind === "cut-body" && outcome.type === "response") {
      record(outcome.response.status);
      return { type: "response", response: { ...outcome.response, body: outcome.response.body.slice(0, fault.bytes) } };
    }
    record(outcome.type === "response" ? outcome.response.status : outcome.type === "error" ? "network" : "stall");
    return outcome;
  }

  /** The promise form of `handle`, shaped like `Transport.send` (a stall never settles). */
  send(request: TransportRequest): Promise<TransportResponse> {
    const outcome = this.handle(request);
    if (outcome.type === "response") return Promise.resolve(outcome.response);
    if (outcome.type === "error") return Promise.reject(new Error("model: connection reset"));
    return new Promise(() => undefined);
  }

  #process(type: XmlModelRequestType, request: TransportRequest, url: ReturnType<typeof parseUrl>, json: RegExpExecArray | null): XmlModelOutcome {
    const segments = url.pathname.split("/").slice(1);
    const bucket = decodeURIComponent(segments[0] ?? "");
    const name = segments.slice(1).map(decodeURIComponent).join("/");
    const uploadId = url.params.get("uploadId") ?? "";
    const upload = this.uploads.get(uploadId);
    switch (type) {
      case "initiate": {
        const id = `mpu-${++this.#uploadCounter}-AbCdEfGhIjKlMnOp`;
        this.uploads.set(id, { id, bucket, name, headers: { ...request.headers }, parts: new Map(), state: "active" });
        return xmlResponse(
          200,
          `<?xml version='1.0' encoding='UTF-8'?><InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${escapeXml(bucket)}</Bucket><Key>${escapeXml(name)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`,
        );
      }
      case "part": {
        if (upload?.state !== "active") return xmlErrorResponse(404, "NoSuchUpload", "The requested upload was not found.");
        const n = Number(url.params.get("partNumber"));
        if (!Number.isInteger(n) || n < 1 || n > 10_000) return xmlErrorResponse(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive");
        const content = concat(request.body);
        const hash = request.headers["x-goog-hash"];
        if (hash !== undefined) {
          const sent = /crc32c=([^,]+)/.exec(hash)?.[1];
          if (sent !== undefined && sent !== crcBase64(this.#crc(content))) return xmlErrorResponse(400, "BadDigest", "The CRC32C you specified did not match what we received.");
        }
        const md5 = request.headers["content-md5"];
        if (md5 !== undefined && this.#options.md5 !== undefined) {
          const digest = this.#options.md5();
          digest.update(content);
          if (md5 !== encodeBase64(digest.digest())) return xmlErrorResponse(400, "BadDigest", "The Content-MD5 you specified did not match what we received.");
        }
        const etag = `"${this.#crc(content).toString(16).padStart(8, "0")}${(++this.#etagCounter).toString(16).padStart(6, "0")}"`;
        upload.parts.set(n, { content, etag });
        return { type: "response", response: { status: 200, headers: { etag, "x-goog-hash": `crc32c=${crcBase64(this.#crc(content))}` }, body: "" } };
      }
      case "list": {
        if (upload?.state !== "active") return xmlErrorResponse(404, "NoSuchUpload", "The requested upload was not found.");
        const marker = Number(url.params.get("part-number-marker") ?? "0");
        const max = Math.min(Number(url.params.get("max-parts") ?? "1000"), this.#options.listPageSize ?? 1000);
        const numbers = [...upload.parts.keys()].filter((n) => n > marker).sort((a, b) => a - b);
        const page = numbers.slice(0, max);
        const truncated = numbers.length > page.length;
        const items = page.map((n) => {
          const p = upload.parts.get(n)!;
          return `<Part><PartNumber>${n}</PartNumber><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>${escapeXml(p.etag)}</ETag><Size>${p.content.length}</Size></Part>`;
        });
        return xmlResponse(
          200,
          `<?xml version='1.0' encoding='UTF-8'?><ListPartsResult><Bucket>${escapeXml(upload.bucket)}</Bucket><Key>${escapeXml(upload.name)}</Key><UploadId>${upload.id}</UploadId><PartNumberMarker>${marker}</PartNumberMarker>${truncated ? `<NextPartNumberMarker>${page.at(-1)}</NextPartNumberMarker>` : ""}<MaxParts>${max}</MaxParts><IsTruncated>${truncated}</IsTruncated>${items.join("")}</ListPartsResult>`,
        );
      }
      case "complete":
        return this.#complete(upload, request);
      case "abort":
        if (upload?.state !== "active") return xmlErrorResponse(404, "NoSuchUpload", "The requested upload was not found.");
        upload.state = "aborted";
        upload.parts.clear();
        return { type: "response", response: { status: 204, headers: {}, body: "" } };
      case "metadata": {
        const object = this.#objects.get(`${decodeURIComponent(json![1]!)}/${decodeURIComponent(json![2]!)}`);
        const generation = url.params.get("generation");
        if (object === undefined || (generation !== undefined && object.resource.generation !== generation)) return jsonResponse(404, { error: { code: 404, message: "No such object" } });
        return jsonResponse(200, object.resource);
      }
      case "delete-object": {
        const key = `${decodeURIComponent(json![1]!)}/${decodeURIComponent(json![2]!)}`;
        const object = this.#objects.get(key);
        if (object === undefined || object.resource.generation !== url.params.get("generation")) return jsonResponse(404, { error: { code: 404, message: "No such object" } });
        this.#objects.delete(key);
        return { type: "response", response: { status: 204, headers: {}, body: "" } };
      }
      default:
        this.violations.push(`unexpected request ${request.method} ${url.pathname}${url.search}`);
        return xmlErrorResponse(400, "InvalidRequest", "unexpected request");
    }
  }

  #complete(upload: XmlModelUpload | undefined, request: TransportRequest): XmlModelOutcome {
    if (upload?.state !== "active") return xmlErrorResponse(404, "NoSuchUpload", "The requested upload was not found.");
    const body = decodeUtf8(concat(request.body));
    const listed = [...body.matchAll(/<Part><PartNumber>(\d+)<\/PartNumber><ETag>([^<]*)<\/ETag><\/Part>/g)].map((m) => ({ n: Number(m[1]), etag: m[2]!.replace(/&quot;/g, '"') }));
    if (listed.length === 0) return xmlErrorResponse(400, "MalformedXML", "The XML you provided was not well-formed.");
    const min = this.#options.minPartSize ?? 5 * 1024 * 1024;
    const contents: Uint8Array[] = [];
    for (const [i, { n, etag }] of listed.entries()) {
      if (i > 0 && n <= listed[i - 1]!.n) return xmlErrorResponse(400, "InvalidPartOrder", "The list of parts was not in ascending order.");
      const part = upload.parts.get(n);
      if (part?.etag !== etag) return xmlErrorResponse(400, "InvalidPart", `Part ${n} was not found or its ETag did not match.`);
      if (i < listed.length - 1 && part.content.length < min) return xmlErrorResponse(400, "EntityTooSmall", `Part ${n} is smaller than the minimum allowed size.`);
      contents.push(part.content);
    }
    if (listed.length !== upload.parts.size) {
      // GCS allows completing with a subset; this engine must never leave a part out.
      this.violations.push(`complete listed ${listed.length} parts, the upload holds ${upload.parts.size}`);
    }
    const key = `${upload.bucket}/${upload.name}`;
    const existing = this.#objects.get(key);
    const match = request.headers["x-goog-if-generation-match"];
    if (match !== undefined && (match === "0" ? existing !== undefined : existing?.resource.generation !== match)) {
      return xmlErrorResponse(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.");
    }
    const content = concat(contents);
    const real = this.#crc(content);
    const stored = this.#options.corruptObjectCrc32c === true ? (real ^ 1) >>> 0 : real;
    const generation = String(this.#generation++);
    const h = upload.headers;
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(h)) if (k.startsWith("x-goog-meta-")) metadata[k.slice("x-goog-meta-".length)] = v;
    const resource: Record<string, unknown> = {
      bucket: upload.bucket,
      name: upload.name,
      size: String(content.length),
      generation,
      metageneration: "1",
      crc32c: crcBase64(stored),
      componentCount: listed.length,
      ...(h["content-type"] === undefined ? {} : { contentType: h["content-type"] }),
      ...(Object.keys(metadata).length === 0 ? {} : { metadata }),
    };
    this.#objects.set(key, { resource, content });
    upload.state = "completed";
    upload.parts.clear();
    const headers: Record<string, string> = { "x-goog-generation": generation, "x-goog-metageneration": "1" };
    if (this.#options.hashOnComplete !== false) headers["x-goog-hash"] = `crc32c=${crcBase64(stored)}`;
    return xmlResponse(
      200,
      `<?xml version='1.0' encoding='UTF-8'?><CompleteMultipartUploadResult><Location>${escapeXml(request.url)}</Location><Bucket>${escapeXml(upload.bucket)}</Bucket><Key>${escapeXml(upload.name)}</Key><ETag>"${real.toString(16)}-${listed.length}"</ETag></CompleteMultipartUploadResult>`,
      headers,
    );
  }
}

/** Decodes a base64 CRC32C to its unsigned value (test convenience). */
export function crc32cFromBase64(text: string): number | undefined {
  const bytes = decodeBase64(text);
  if (bytes?.length !== 4) return undefined;
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
}
