/**
 * JSON API one-request uploads: `POST /upload/storage/v1/b/{bucket}/o?uploadType=media&name=...` (the
 * body is the object) and `?uploadType=multipart` (a `multipart/related` body: the object resource as
 * JSON, then the bytes). Rules:
 *
 * - The object exists only if the whole body arrived: a cut body creates nothing.
 * - `crc32c` / `md5Hash` in the metadata part and `X-Goog-Hash` are checked against the bytes; a mismatch
 *   is 400 and nothing is created. Preconditions (`ifGenerationMatch`, ...) are checked then (412).
 * - A multipart body has exactly two parts: `application/json` metadata, then the media (its
 *   `Content-Type` is the object's unless the metadata names one). The media part is streamed, not
 *   buffered: it ends at the first `\r\n--boundary`, which must be the closing delimiter.
 * - Name from `name=` or the metadata; `predefinedAcl`, `kmsKeyName`, `userProject` as at a session start;
 *   customer-supplied key headers are remembered on the object.
 */
import { ObjectData, isBase64OfLength, parseGoogHash } from "./checksums.js";
import { readCustomerKey } from "./csek.js";
import type { Exchange } from "./exchange.js";
import type { Fault } from "./faults.js";
import type { EmulatorState } from "./state.js";
import { objectNameProblem, preconditionFailure, type ObjectMetadataInput } from "./store.js";
import { failWith, metadataFromResource, preconditionsFrom, sendObjectResource } from "./uploads.js";

/** The metadata part and the headers of the media part must fit in this much. */
const MAX_HEAD = 1024 * 1024;

const NO_MD5 = "An MD5 cannot be checked: this emulator runs without MD5 (md5: false / --no-md5), so the object was not created.";

/** `uploadType=media` or `uploadType=multipart`. */
export async function singleRequestUpload(ex: Exchange, state: EmulatorState, bucketName: string, fault: Fault | undefined): Promise<void> {
  const multipart = ex.query.get("uploadType") === "multipart";
  const refuse = (message: string): Promise<void> => ex.error(400, "invalid", message);
  const hashes = parseGoogHash(ex.header("x-goog-hash"));
  if (!hashes.ok) return refuse(hashes.message);
  const key = readCustomerKey(ex.req.headers);
  if (!key.ok) return refuse(key.message);
  const preconditions = preconditionsFrom((param) => ex.query.get(param) ?? undefined);
  if (typeof preconditions === "string") return refuse(preconditions);
  let boundary: string | undefined;
  if (multipart) {
    boundary = boundaryOf(ex.header("content-type"));
    if (boundary === undefined) return refuse("uploadType=multipart needs Content-Type: multipart/related; boundary=...");
  }

  const data = new ObjectData(state.keepBytes, state.options.md5);
  const reader = boundary === undefined ? undefined : new RelatedReader(boundary, (bytes) => data.append(bytes));
  const outcome = await ex.streamBody((chunk) => (reader ? reader.push(chunk) : data.append(chunk)));
  if (outcome === "cut") ex.noteCut("nothing created");
  if (outcome !== "complete") return;
  if (fault?.kind === "status-after") return failWith(ex, fault.status);

  let resource: Record<string, unknown> = {};
  let mediaType: string | undefined = ex.header("content-type");
  if (reader) {
    const parsed = reader.finish();
    if (typeof parsed === "string") return refuse(`The multipart/related body is malformed: ${parsed}`);
    try {
      const json: unknown = JSON.parse(parsed.metadata);
      if (typeof json !== "object" || json === null || Array.isArray(json)) return refuse("The metadata part must be a JSON object (the object resource).");
      resource = json as Record<string, unknown>;
    } catch {
      return ex.error(400, "parseError", "The metadata part is not valid JSON.");
    }
    mediaType = parsed.mediaType;
  }
  const name = ex.query.get("name") ?? (typeof resource.name === "string" ? resource.name : undefined);
  if (name === undefined) return ex.error(400, "required", "Required parameter: name (query or metadata).");
  const nameProblem = objectNameProblem(name);
  if (nameProblem) return refuse(nameProblem);
  const meta = metadataFromResource(resource);
  if (typeof meta === "string") return refuse(meta);
  addQueryMetadata(meta, ex, mediaType);
  const { crc32c, md5Hash } = resource;
  if (crc32c !== undefined && (typeof crc32c !== "string" || !isBase64OfLength(crc32c, 4))) {
    return refuse("crc32c must be the base64 of 4 big-endian bytes.");
  }
  if (md5Hash !== undefined && (typeof md5Hash !== "string" || !isBase64OfLength(md5Hash, 16))) {
    return refuse("md5Hash must be the base64 of 16 bytes.");
  }
  const declared = { crc32c, md5Hash } as { crc32c?: string; md5Hash?: string };
  const actual = data.digests();
  const checks: [string | undefined, string | undefined, string][] = [
    [hashes.value.crc32c, actual.crc32c, "CRC32C (X-Goog-Hash)"],
    [hashes.value.md5, actual.md5Hash, "MD5 (X-Goog-Hash)"],
    [declared.crc32c, actual.crc32c, "CRC32C (metadata crc32c)"],
    [declared.md5Hash, actual.md5Hash, "MD5 (metadata md5Hash)"],
  ];
  for (const [given, computed, label] of checks) {
    if (given === undefined) continue;
    if (computed === undefined) return refuse(NO_MD5);
    if (given !== computed) return refuse(`Provided ${label} "${given}" does not match the calculated "${computed}": the object was not created.`);
  }
  const bucket = state.bucket(bucketName);
  if (!bucket) return ex.error(404, "notFound", `The specified bucket does not exist: ${bucketName}.`);
  const failure = preconditionFailure(bucket.objects.get(name), preconditions);
  if (failure) return ex.error(412, "conditionNotMet", `Precondition failed: ${failure}`);
  const object = state.commitObject({
    bucket,
    name,
    meta,
    customerKey: key.key,
    size: data.size,
    crc32c: actual.crc32c,
    md5Hash: actual.md5Hash,
    chunks: data.chunks(),
  });
  return sendObjectResource(ex, object);
}

function addQueryMetadata(meta: ObjectMetadataInput, ex: Exchange, mediaType: string | undefined): void {
  if (meta.contentType === undefined && mediaType !== undefined && mediaType !== "") meta.contentType = mediaType;
  for (const [field, param] of [
    ["kmsKeyName", "kmsKeyName"],
    ["predefinedAcl", "predefinedAcl"],
    ["contentEncoding", "contentEncoding"],
  ] as const) {
    const value = ex.query.get(param);
    if (value !== null) meta[field] = value;
  }
}

/** The boundary of a `multipart/related` Content-Type, or undefined when it is another type or has none. */
function boundaryOf(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const [type, ...params] = contentType.split(";");
  if (type?.trim().toLowerCase() !== "multipart/related") return undefined;
  for (const param of params) {
    const eq = param.indexOf("=");
    if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== "boundary") continue;
    const value = param.slice(eq + 1).trim();
    const boundary = value.startsWith('"') && value.endsWith('"') && value.length >= 2 ? value.slice(1, -1) : value;
    return boundary.length >= 1 && boundary.length <= 70 ? boundary : undefined;
  }
  return undefined;
}

/** What a complete multipart/related body held besides the media bytes. */
export interface RelatedParts {
  readonly metadata: string;
  readonly mediaType: string | undefined;
}

/**
 * Reads a two-part `multipart/related` body as it streams: the head (first delimiter, metadata part,
 * second delimiter, media headers) is gathered, then media bytes go to `sink` as they come, holding back
 * only as many bytes as a delimiter could span. `finish()` checks the close delimiter came.
 */
export class RelatedReader {
  readonly #delimiter: Buffer;
  readonly #sink: (bytes: Buffer) => void;
  #head: Buffer[] = [];
  #headBytes = 0;
  #parsed: RelatedParts | string | undefined;
  #tail = Buffer.alloc(0);
  #epilogue: Buffer | undefined;

  constructor(boundary: string, sink: (bytes: Buffer) => void) {
    this.#delimiter = Buffer.from(`\r\n--${boundary}`);
    this.#sink = sink;
  }

  /** Takes the next piece of the body. */
  push(chunk: Buffer): void {
    if (this.#epilogue !== undefined) {
      this.#epilogue = Buffer.concat([this.#epilogue, chunk]);
      return;
    }
    if (this.#parsed === undefined) {
      this.#head.push(chunk);
      this.#headBytes += chunk.length;
      this.#tryHead();
      return;
    }
    if (typeof this.#parsed === "string") return;
    this.#media(chunk);
  }

  /** Called once the body ended: the metadata and media type, or why the body is malformed. */
  finish(): RelatedParts | string {
    if (this.#parsed === undefined) this.#tryHead(true);
    if (typeof this.#parsed === "string") return this.#parsed;
    if (this.#parsed === undefined) return "the body ended before the media part began.";
    if (this.#epilogue === undefined) return "the closing boundary is missing.";
    // After the delimiter: "--" closes the body; a CRLF would start a third part.
    if (!this.#epilogue.subarray(0, 2).equals(Buffer.from("--"))) return "it has more than two parts (metadata and media).";
    return this.#parsed;
  }

  #tryHead(ending = false): void {
    const head = Buffer.concat(this.#head);
    const dash = this.#delimiter.subarray(2); // "--boundary" opens the body, without the CRLF before it
    // The first delimiter may follow a preamble; then the metadata part, then the media part's headers.
    const opening = head.indexOf(dash);
    const parts = opening === -1 ? -1 : head.indexOf("\r\n\r\n", opening);
    const metadataEnd = parts === -1 ? -1 : head.indexOf(this.#delimiter, parts + 4);
    const mediaHeadersEnd = metadataEnd === -1 ? -1 : head.indexOf("\r\n\r\n", metadataEnd + this.#delimiter.length);
    if (mediaHeadersEnd === -1) {
      if (ending || this.#headBytes > MAX_HEAD) this.#parsed = this.#headBytes > MAX_HEAD ? "the metadata part is larger than 1 MiB." : "the body ended inside the metadata part.";
      return;
    }
    if (!head.subarray(opening + dash.length, opening + dash.length + 2).equals(Buffer.from("\r\n"))) {
      this.#parsed = "the first boundary line is malformed.";
      return;
    }
    const metadataHeaders = headersOf(head.subarray(opening + dash.length + 2, parts).toString("latin1"));
    const metadataType = metadataHeaders.get("content-type")?.split(";")[0]?.trim().toLowerCase();
    if (metadataType !== "application/json") {
      this.#parsed = `the first part must be the JSON metadata (Content-Type: application/json), not ${metadataType ?? "untyped"}.`;
      return;
    }
    const afterDelimiter = metadataEnd + this.#delimiter.length;
    if (!head.subarray(afterDelimiter, afterDelimiter + 2).equals(Buffer.from("\r\n"))) {
      this.#parsed = "the body has no media part after the metadata.";
      return;
    }
    const mediaHeaders = headersOf(head.subarray(afterDelimiter + 2, mediaHeadersEnd).toString("latin1"));
    this.#parsed = { metadata: head.subarray(parts + 4, metadataEnd).toString("utf8"), mediaType: mediaHeaders.get("content-type") };
    this.#head = [];
    this.#media(head.subarray(mediaHeadersEnd + 4));
  }

  #media(chunk: Buffer): void {
    const pending = this.#tail.length === 0 ? chunk : Buffer.concat([this.#tail, chunk]);
    const end = pending.indexOf(this.#delimiter);
    if (end !== -1) {
      if (end > 0) this.#sink(pending.subarray(0, end));
      this.#tail = Buffer.alloc(0);
      this.#epilogue = Buffer.from(pending.subarray(end + this.#delimiter.length));
      return;
    }
    // Hold back what could be the start of a delimiter split across chunks.
    const keep = Math.min(pending.length, this.#delimiter.length - 1);
    if (pending.length > keep) this.#sink(pending.subarray(0, pending.length - keep));
    this.#tail = Buffer.from(pending.subarray(pending.length - keep));
  }
}

function headersOf(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of block.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}
