/**
 * The resumable-upload protocol, server side (docs/protocol.md, session start to cancel). Rules, in the order they are checked
 * for a chunk request (`PUT {session}`):
 *
 * 1. Unknown or cancelled session -> 404; expired session -> 410. A session started with a customer-supplied key
 *    requires the same key headers -> 400 otherwise. A finalized session answers 200 + the object.
 * 2. `Content-Range` must parse; `Content-Length` must equal the range's length; a stated total must
 *    agree with `X-Upload-Content-Length` and with any total stated before, and not be below the
 *    persisted offset -> 400 otherwise.
 * 3. `bytes *\/*`, `bytes *\/N` with N above the persisted offset: a status query, 308, never finalizes.
 *    `bytes *\/N` with N equal to the persisted offset finalizes (exact-multiple ending, zero-byte object).
 * 4. A chunk starting beyond the persisted offset (a gap) -> 400, nothing persisted. A chunk that does not
 *    end the upload must carry at least 256 KiB -> 400 otherwise.
 * 5. Bytes below the persisted offset are ignored. New bytes are persisted in whole 256 KiB blocks as
 *    they arrive, so a cut body leaves a 256 KiB-aligned offset and a non-final chunk that is not a
 *    multiple of 256 KiB is acknowledged short (308 with the aligned `Range`).
 *    An open end (`bytes a-*\/*`, `bytes a-*\/N`) is the rest of the object: no minimum, and when its body
 *    ends completely it is the final request (with a known total, the body must end exactly there).
 * 6. The request that reaches the total finalizes: checksums (`X-Goog-Hash`, declared crc32c/md5Hash)
 *    and preconditions are checked, then the object is created (200 + object resource). If a check
 *    fails (400 / 412) the object is not created and the request persists nothing: the session stays
 *    open at the offset it had before that request.
 */
import { ObjectData, isBase64OfLength, parseGoogHash, type DataSnapshot } from "./checksums.js";
import { parseContentRange, rangeLength, type UploadRange } from "./content-range.js";
import { keyMismatch, readCustomerKey } from "./csek.js";
import type { Exchange } from "./exchange.js";
import type { Fault } from "./faults.js";
import type { EmulatorState } from "./state.js";
import { randomId } from "./state.js";
import {
  etagOf,
  googHashOf,
  objectNameProblem,
  objectResource,
  preconditionFailure,
  type ObjectMetadataInput,
  type Preconditions,
  type StoredObject,
  type UploadSession,
} from "./store.js";

/** GCS persists and accepts non-final chunks in multiples of this. */
export const BLOCK = 256 * 1024;

/** Largest session-start body read (the object resource JSON). */
const MAX_START_BODY = 1024 * 1024;

/** The XML API spells two of the conditions as headers. */
const XML_CONDITION_HEADERS: Readonly<Record<string, string>> = {
  ifGenerationMatch: "x-goog-if-generation-match",
  ifMetagenerationMatch: "x-goog-if-metageneration-match",
};

/** The 400 message for an MD5 the client asks to check while MD5 is off. */
const NO_MD5_MESSAGE = (what: string): string =>
  `${what} cannot be checked: this emulator runs without MD5 (md5: false / --no-md5), so the object was not created. ` +
  "Send crc32c only, or run the emulator with MD5.";

/** How a chunk request's fault (if any) shapes what it persists and answers. */
type ChunkFault = Fault | undefined;

// ---------------------------------------------------------------------------------------------------
// Session start
// ---------------------------------------------------------------------------------------------------

/** `POST /upload/storage/v1/b/{bucket}/o?uploadType=resumable&name=...` (JSON API start). */
export async function startJsonUpload(ex: Exchange, state: EmulatorState, bucketName: string, fault: ChunkFault): Promise<void> {
  const uploadType = ex.query.get("uploadType");
  if (uploadType !== "resumable") {
    return ex.error(400, "invalid", `uploadType=${uploadType ?? "(none)"} is not supported: use uploadType=resumable, multipart or media.`);
  }
  const body = await ex.readBody(MAX_START_BODY);
  if (body === undefined) {
    return ex.answered ? undefined : ex.error(413, "uploadTooLarge", "The session-start body is larger than 1 MiB.");
  }
  if (fault?.kind === "status-after") return failWith(ex, fault.status);
  let resource: Record<string, unknown> = {};
  if (body.length > 0) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      return ex.error(400, "parseError", "The session-start body is not valid JSON.");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return ex.error(400, "invalid", "The session-start body must be an object resource (a JSON object).");
    }
    resource = parsed as Record<string, unknown>;
  }
  const name = ex.query.get("name") ?? (typeof resource.name === "string" ? resource.name : undefined);
  if (name === undefined) return ex.error(400, "required", "Required parameter: name (query or body).");
  const meta = metadataFromResource(resource);
  if (typeof meta === "string") return ex.error(400, "invalid", meta);
  meta.contentType ??= ex.header("x-upload-content-type");
  const kmsKeyName = ex.query.get("kmsKeyName");
  if (kmsKeyName !== null) meta.kmsKeyName = kmsKeyName;
  const predefinedAcl = ex.query.get("predefinedAcl");
  if (predefinedAcl !== null) meta.predefinedAcl = predefinedAcl;
  const declared: { crc32c?: string; md5Hash?: string } = {};
  if (resource.crc32c !== undefined) {
    if (typeof resource.crc32c !== "string" || !isBase64OfLength(resource.crc32c, 4)) {
      return ex.error(400, "invalid", "crc32c must be the base64 of 4 big-endian bytes.");
    }
    declared.crc32c = resource.crc32c;
  }
  if (resource.md5Hash !== undefined) {
    if (typeof resource.md5Hash !== "string" || !isBase64OfLength(resource.md5Hash, 16)) {
      return ex.error(400, "invalid", "md5Hash must be the base64 of 16 bytes.");
    }
    if (!state.options.md5) return ex.error(400, "invalid", NO_MD5_MESSAGE("The declared md5Hash"));
    declared.md5Hash = resource.md5Hash;
  }
  const preconditions = preconditionsFrom((param) => ex.query.get(param) ?? undefined);
  return openSession(ex, state, { api: "json", bucketName, name, meta, declared, preconditions });
}

/** `POST /{bucket}/{object}` with `x-goog-resumable: start` (XML API / signed URL start). */
export async function startXmlUpload(ex: Exchange, state: EmulatorState, bucketName: string, name: string, fault: ChunkFault): Promise<void> {
  await ex.drain();
  if (ex.answered) return;
  if (fault?.kind === "status-after") return failWith(ex, fault.status);
  const metadata: Record<string, string> = {};
  for (const [header, value] of Object.entries(ex.req.headers)) {
    if (header.startsWith("x-goog-meta-") && value !== undefined) metadata[header.slice(12)] = String(value);
  }
  const meta: ObjectMetadataInput = {};
  const contentType = ex.header("content-type");
  if (contentType !== undefined && contentType !== "") meta.contentType = contentType;
  if (Object.keys(metadata).length > 0) meta.metadata = metadata;
  for (const [field, header] of [
    ["cacheControl", "cache-control"],
    ["contentDisposition", "content-disposition"],
    ["contentEncoding", "content-encoding"],
    ["contentLanguage", "content-language"],
  ] as const) {
    const value = ex.header(header);
    if (value !== undefined) meta[field] = value;
  }
  const preconditions = preconditionsFrom((param) => ex.query.get(param) ?? ex.header(XML_CONDITION_HEADERS[param] ?? ""));
  return openSession(ex, state, { api: "xml", bucketName, name, meta, declared: {}, preconditions });
}

interface SessionRequest {
  readonly api: "json" | "xml";
  readonly bucketName: string;
  readonly name: string;
  readonly meta: ObjectMetadataInput;
  readonly declared: { crc32c?: string; md5Hash?: string };
  readonly preconditions: Preconditions | string;
}

async function openSession(ex: Exchange, state: EmulatorState, request: SessionRequest): Promise<void> {
  const { api, bucketName, name, meta, declared, preconditions } = request;
  if (!state.bucket(bucketName)) return ex.error(404, "notFound", `The specified bucket does not exist: ${bucketName}.`);
  const nameProblem = objectNameProblem(name);
  if (nameProblem) return ex.error(400, "invalid", nameProblem);
  if (typeof preconditions === "string") return ex.error(400, "invalid", preconditions);
  const key = readCustomerKey(ex.req.headers);
  if (!key.ok) return ex.error(400, "invalid", key.message);
  const lengthHeader = ex.header("x-upload-content-length");
  let declaredTotal: number | undefined;
  if (lengthHeader !== undefined) {
    declaredTotal = Number(lengthHeader);
    if (!/^\d+$/.test(lengthHeader.trim()) || !Number.isSafeInteger(declaredTotal)) {
      return ex.error(400, "invalid", `Invalid X-Upload-Content-Length: ${lengthHeader}.`);
    }
  }
  const failure = preconditionFailure(state.object(bucketName, name), preconditions);
  if (failure) return ex.error(412, "conditionNotMet", `Precondition failed: ${failure}`);
  const session: UploadSession = {
    uploadId: randomId(24),
    guploaderId: randomId(18),
    api,
    bucket: bucketName,
    name,
    createdAt: state.options.now(),
    meta,
    declared,
    preconditions,
    declaredTotal,
    statedTotal: undefined,
    customerKey: key.key,
    origin: ex.origin,
    data: new ObjectData(state.keepBytes, state.options.md5),
    state: "open",
    object: undefined,
    activeRequest: 0,
  };
  state.addSession(session);
  const location =
    api === "json"
      ? `${ex.baseUrl}/upload/storage/v1/b/${bucketName}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${session.uploadId}`
      : `${ex.baseUrl}/${bucketName}/${name.split("/").map(encodeURIComponent).join("/")}?upload_id=${session.uploadId}`;
  return ex.send(api === "json" ? 200 : 201, { Location: location, "X-GUploader-UploadID": session.guploaderId });
}

/** The object metadata of a JSON object resource (session start, multipart upload); a string is the 400 message. */
export function metadataFromResource(resource: Record<string, unknown>): ObjectMetadataInput | string {
  const meta: ObjectMetadataInput = {};
  for (const field of [
    "contentType",
    "cacheControl",
    "contentDisposition",
    "contentEncoding",
    "contentLanguage",
    "storageClass",
    "customTime",
  ] as const) {
    const value = resource[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== "string") return `${field} must be a string.`;
    meta[field] = value;
  }
  const metadata = resource.metadata;
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== "object" || Array.isArray(metadata)) return "metadata must be an object of strings.";
    meta.metadata = {};
    for (const [key, value] of Object.entries(metadata as Record<string, unknown>)) {
      if (value === null || value === undefined) continue;
      meta.metadata[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
  }
  return meta;
}

/** Reads the four generation conditions; a string is the 400 message for a malformed one. */
export function preconditionsFrom(read: (param: string) => string | undefined): Preconditions | string {
  const result: Preconditions = {};
  for (const param of ["ifGenerationMatch", "ifGenerationNotMatch", "ifMetagenerationMatch", "ifMetagenerationNotMatch"] as const) {
    const text = read(param);
    if (text === undefined) continue;
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) return `Invalid ${param}: ${text}.`;
    result[param] = value;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------
// Chunk requests, status queries, cancel
// ---------------------------------------------------------------------------------------------------

/** The parsed request line of a session request, computed before any fault is taken. */
export interface SessionTarget {
  readonly session: UploadSession | undefined;
  readonly expired: boolean;
  /** The range the request states; "invalid" when malformed; absent header = the whole object. */
  readonly range: UploadRange | "invalid";
  /** Whether this request would end the upload (for the final-chunk fault). */
  readonly endsUpload: boolean;
}

/** Looks up the session and reads `Content-Range`, without answering anything yet. */
export function sessionTarget(ex: Exchange, state: EmulatorState): SessionTarget {
  const uploadId = ex.query.get("upload_id");
  const lookup = uploadId === null ? { found: false as const, expired: false } : state.session(uploadId);
  const session = lookup.found ? lookup.session : undefined;
  const range = requestRange(ex);
  let endsUpload = false;
  if (session?.state === "open" && range !== "invalid") {
    const persisted = session.data.size;
    if (range.kind === "query") endsUpload = range.total !== undefined && range.total === persisted;
    else if (range.kind === "open") endsUpload = true; // an open end is meant to end the upload
    else {
      const total = range.total ?? session.statedTotal ?? session.declaredTotal;
      endsUpload = total !== undefined && range.last + 1 === total;
    }
  }
  return { session, expired: !lookup.found && lookup.expired, range, endsUpload };
}

function requestRange(ex: Exchange): UploadRange | "invalid" {
  const header = ex.header("content-range");
  if (header !== undefined) return parseContentRange(header) ?? "invalid";
  // No Content-Range: the body is the whole object (a single-request upload to the session).
  const length = contentLength(ex);
  if (length === undefined || length === "invalid") return "invalid";
  return length === 0 ? { kind: "query", total: 0 } : { kind: "bytes", first: 0, last: length - 1, total: length };
}

function contentLength(ex: Exchange): number | undefined | "invalid" {
  const header = ex.header("content-length");
  if (header === undefined) return undefined;
  const value = Number(header);
  return /^\d+$/.test(header) && Number.isSafeInteger(value) ? value : "invalid";
}

/** Answers 404 / 400 / 200 for requests that cannot touch an open session; true when it answered. */
async function gate(ex: Exchange, target: SessionTarget): Promise<UploadSession | undefined> {
  const { session } = target;
  if (!session) {
    // GCS answers 404 or 410 for a session past its lifetime; 410 (Gone) tells it apart from a cancelled or unknown one.
    if (target.expired) await ex.error(410, "gone", "The upload session has expired: start a new upload.");
    else await ex.error(404, "notFound", "No such upload session.");
    return undefined;
  }
  if (session.origin !== undefined) ex.origin = session.origin;
  const problem = keyMismatch(session.customerKey, readCustomerKey(ex.req.headers));
  if (problem) {
    await ex.error(400, "customerEncryptionKeyRequired", problem, { "X-GUploader-UploadID": session.guploaderId });
    return undefined;
  }
  if (session.state === "final" && session.object) {
    // The object exists already: a resent final chunk or a status query after a lost response.
    await sendObject(ex, session, session.object);
    return undefined;
  }
  return session;
}

/** `PUT {session}`: a chunk, a status query, or an empty finalizing request. */
export async function putToSession(ex: Exchange, state: EmulatorState, target: SessionTarget, fault: ChunkFault): Promise<void> {
  const session = await gate(ex, target);
  if (!session) return;
  const token = ++session.activeRequest;
  const refuse = (message: string): Promise<void> =>
    ex.error(400, "invalid", message, { "X-GUploader-UploadID": session.guploaderId });
  const hashes = parseGoogHash(ex.header("x-goog-hash"));
  if (!hashes.ok) return refuse(hashes.message);
  const range = target.range;
  if (range === "invalid") return refuse(`Failed to parse Content-Range header: ${ex.header("content-range") ?? "(absent, and no Content-Length)"}.`);
  // Undefined for an open end without a total: the body's end tells.
  const length = rangeLength(range);
  const declaredLength = contentLength(ex);
  if (declaredLength === "invalid" || (declaredLength !== undefined && length !== undefined && declaredLength !== length)) {
    const said = length === undefined ? "" : ` (${length} bytes)`;
    return refuse(`Content-Length ${ex.header("content-length")} does not match Content-Range ${ex.header("content-range") ?? ""}${said}.`);
  }
  const persisted = session.data.size;
  const total = range.total;
  if (total !== undefined) {
    if (session.declaredTotal !== undefined && total !== session.declaredTotal) {
      return refuse(`The total size ${total} differs from X-Upload-Content-Length ${session.declaredTotal}.`);
    }
    if (session.statedTotal !== undefined && total !== session.statedTotal) {
      return refuse(`The total size ${total} differs from the total stated earlier, ${session.statedTotal}.`);
    }
    if (total < persisted) return refuse(`The total size ${total} is below the ${persisted} bytes already persisted.`);
  }

  if (range.kind === "query") {
    await ex.drain();
    if (ex.answered) return;
    if (ex.bodyLength !== 0) return refuse("A request with Content-Range bytes */N carries no body.");
    if (fault?.kind === "status-after") return failWith(ex, fault.status);
    if (total !== undefined) session.statedTotal = total;
    if (total === undefined || total !== persisted) return sendProgress(ex, session);
    return finalize(ex, state, session, session.data.snapshot(), hashes.value, undefined);
  }

  if (range.first > persisted) {
    return refuse(`The chunk starts at byte ${range.first}, beyond the ${persisted} bytes persisted: bytes would be missing.`);
  }
  const effectiveTotal = total ?? session.statedTotal ?? session.declaredTotal;
  // An open end (`bytes a-*/...`) is the rest of the object: it ends the upload when its body ends.
  const open = range.kind === "open";
  if (!open) {
    if (effectiveTotal !== undefined && range.last + 1 > effectiveTotal) {
      return refuse(`The chunk ends at byte ${range.last}, beyond the total size ${effectiveTotal}.`);
    }
    const final = effectiveTotal !== undefined && range.last + 1 === effectiveTotal;
    if (!final && range.last - range.first + 1 < BLOCK) {
      return refuse(
        `The chunk carries ${range.last - range.first + 1} bytes: a chunk is required to be equal or greater than ${BLOCK}, except for the final request ` +
          `(and should be a multiple of ${BLOCK}).`,
      );
    }
  } else if (effectiveTotal !== undefined && range.first > effectiveTotal) {
    return refuse(`The request starts at byte ${range.first}, beyond the total size ${effectiveTotal}.`);
  }
  if (total !== undefined) session.statedTotal = total;

  const snapshot = session.data.snapshot();
  // Faults that keep only N KiB of the request's new bytes (aligned down) cap what may be persisted;
  // nothing is ever persisted beyond a known total.
  const capped = fault?.kind === "status-after" || fault?.kind === "short-ack";
  const faultCap = capped ? persisted + alignDown(fault.kind === "short-ack" ? fault.bytes : fault.afterBytes) : Number.POSITIVE_INFINITY;
  const cap = Math.min(faultCap, effectiveTotal ?? Number.POSITIVE_INFINITY);
  const ingest = new Ingest(session, token, range.first, cap);
  const outcome = await ex.streamBody((chunk) => ingest.write(chunk));
  // A cut or reset body keeps the whole blocks already persisted; the partial block is dropped.
  if (outcome === "cut") ex.noteCut(`persisted ${session.data.size}`);
  if (outcome !== "complete") return;
  const end = range.first + ex.bodyLength; // one past the last byte the body carried
  if (!open && ex.bodyLength !== length) {
    session.data.restore(snapshot);
    return refuse(`The body carried ${ex.bodyLength} bytes, Content-Range said ${length}.`);
  }
  if (open && effectiveTotal !== undefined && end !== effectiveTotal) {
    session.data.restore(snapshot);
    return refuse(
      `The body ended at byte ${end} (${ex.bodyLength} bytes from ${range.first}), but the total size is ${effectiveTotal}: ` +
        "a request with an open end must carry the rest of the object.",
    );
  }
  if (session.activeRequest !== token) {
    return ex.error(503, "backendError", "A later request to this upload session superseded this one.");
  }
  if (fault?.kind === "status-after") return failWith(ex, fault.status);
  if (fault?.kind === "short-ack" && cap < end) return sendProgress(ex, session);
  if (!open && !(effectiveTotal !== undefined && end === effectiveTotal)) return sendProgress(ex, session);
  if (open && end < persisted) {
    // The whole body lay below the persisted offset: the object is longer than this request says.
    session.data.restore(snapshot);
    return refuse(`The body ended at byte ${end}, below the ${persisted} bytes already persisted.`);
  }
  return finalize(ex, state, session, snapshot, hashes.value, ingest);
}

/** `DELETE {session}`: cancels an open session (499); later requests get 404. */
export async function cancelSession(ex: Exchange, state: EmulatorState, target: SessionTarget): Promise<void> {
  const session = await gate(ex, target);
  if (!session) return;
  session.activeRequest++;
  state.sessions.delete(session.uploadId);
  session.data.release();
  return ex.error(499, "clientClosedRequest", "The upload was cancelled.", { "X-GUploader-UploadID": session.guploaderId });
}

async function finalize(
  ex: Exchange,
  state: EmulatorState,
  session: UploadSession,
  snapshot: DataSnapshot,
  hashes: { crc32c?: string; md5?: string },
  ingest: Ingest | undefined,
): Promise<void> {
  ingest?.commitAll();
  const fail = (status: number, reason: string, message: string): Promise<void> => {
    session.data.restore(snapshot);
    return ex.error(status, reason, message, { "X-GUploader-UploadID": session.guploaderId });
  };
  const size = session.data.size;
  if (session.declaredTotal !== undefined && size !== session.declaredTotal) {
    return fail(400, "invalid", `The object has ${size} bytes, X-Upload-Content-Length said ${session.declaredTotal}.`);
  }
  const actual = session.data.digests();
  if (hashes.md5 !== undefined && actual.md5Hash === undefined) return fail(400, "invalid", NO_MD5_MESSAGE("The X-Goog-Hash md5 value"));
  const checks: [string | undefined, string | undefined, string][] = [
    [hashes.crc32c, actual.crc32c, "CRC32C (X-Goog-Hash)"],
    [hashes.md5, actual.md5Hash, "MD5 (X-Goog-Hash)"],
    [session.declared.crc32c, actual.crc32c, "CRC32C (declared crc32c)"],
    [session.declared.md5Hash, actual.md5Hash, "MD5 (declared md5Hash)"],
  ];
  for (const [given, computed, label] of checks) {
    if (given !== undefined && given !== computed) {
      return fail(400, "invalid", `Provided ${label} "${given}" does not match the calculated "${computed}": the object was not created.`);
    }
  }
  const bucket = state.buckets.get(session.bucket);
  if (!bucket) return fail(404, "notFound", `The specified bucket does not exist: ${session.bucket}.`);
  const failure = preconditionFailure(bucket.objects.get(session.name), session.preconditions);
  if (failure) return fail(412, "conditionNotMet", `Precondition failed: ${failure}`);
  const object = state.commitObject({
    bucket,
    name: session.name,
    meta: session.meta,
    customerKey: session.customerKey,
    size,
    crc32c: actual.crc32c,
    md5Hash: actual.md5Hash,
    chunks: session.data.chunks(),
  });
  session.state = "final";
  session.object = object;
  // The session keeps only the object: its buffers now belong to the object alone.
  session.data.release();
  return sendObject(ex, session, object);
}

function sendObject(ex: Exchange, session: UploadSession, object: StoredObject): Promise<void> {
  return sendObjectResource(ex, object, { "X-GUploader-UploadID": session.guploaderId });
}

/** Answers 200 with the object resource and the headers GCS sends with it. */
export function sendObjectResource(ex: Exchange, object: StoredObject, headers: Record<string, string> = {}): Promise<void> {
  return ex.json(200, objectResource(object, ex.baseUrl), {
    ETag: etagOf(object),
    "X-Goog-Generation": object.generation,
    "X-Goog-Metageneration": object.metageneration,
    "X-Goog-Hash": googHashOf(object),
    "X-Goog-Stored-Content-Length": String(object.size),
    ...headers,
  });
}

function sendProgress(ex: Exchange, session: UploadSession): Promise<void> {
  const persisted = session.data.size;
  const headers: Record<string, string> = { "X-GUploader-UploadID": session.guploaderId };
  // No Range header at all means nothing is persisted (docs/protocol.md#308-and-range).
  if (persisted > 0) headers.Range = `bytes=0-${persisted - 1}`;
  return ex.send(308, headers);
}

/** Answers a `return-NNN` style fault with a GCS-shaped error. */
export function failWith(ex: Exchange, status: number): Promise<void> {
  return ex.error(status, reasonFor(status), `Injected fault: HTTP ${status}.`);
}

function reasonFor(status: number): string {
  switch (status) {
    case 408:
      return "requestTimeout";
    case 429:
      return "rateLimitExceeded";
    case 500:
      return "internalError";
    case 502:
      return "badGateway";
    case 503:
      return "backendError";
    case 504:
      return "gatewayTimeout";
    default:
      return status < 500 ? "invalid" : "backendError";
  }
}

function alignDown(offset: number): number {
  return Math.floor(offset / BLOCK) * BLOCK;
}

/**
 * Moves the new bytes of one chunk request into the session, in whole 256 KiB blocks. At most one
 * partial block is held per request (flat memory in discard mode, whatever the chunk size).
 */
class Ingest {
  readonly #session: UploadSession;
  readonly #token: number;
  readonly #cap: number;
  #position: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  constructor(session: UploadSession, token: number, first: number, cap: number) {
    this.#session = session;
    this.#token = token;
    this.#position = first;
    this.#cap = cap;
  }

  /** Takes the next piece of the body. */
  write(chunk: Buffer): void {
    const position = this.#position;
    this.#position += chunk.length;
    // A later request to the session took over: this one writes nothing more.
    if (this.#session.activeRequest !== this.#token) return;
    const next = this.#session.data.size + this.#pendingBytes;
    const skip = next - position;
    if (skip < 0 || skip >= chunk.length) return;
    const room = this.#cap - next;
    if (room <= 0) return;
    const piece = chunk.subarray(skip, skip + Math.min(chunk.length - skip, room));
    this.#pending.push(piece);
    this.#pendingBytes += piece.length;
    if (this.#pendingBytes >= BLOCK) this.#commit(alignDown(this.#pendingBytes));
  }

  /** Persists the partial block too (the request that ends the upload keeps every byte). */
  commitAll(): void {
    if (this.#session.activeRequest === this.#token) this.#commit(this.#pendingBytes);
  }

  #commit(bytes: number): void {
    let left = bytes;
    while (left > 0) {
      const head = this.#pending[0]!;
      if (head.length <= left) {
        this.#pending.shift();
        this.#session.data.append(head);
        left -= head.length;
      } else {
        this.#session.data.append(head.subarray(0, left));
        this.#pending[0] = head.subarray(left);
        left = 0;
      }
    }
    this.#pendingBytes -= bytes;
  }
}
