/**
 * The request table: which path and method is which GCS operation, and which retry-test method name it
 * consumes instructions for. Request-entry faults (`return-NNN`, `return-reset-connection`) are applied
 * here, before the operation looks at anything; body and response faults are handed on.
 */
import { corsPreflightHeaders, corsProblem, type CorsRule } from "./cors.js";
import { bucketNameProblem, bucketResource, etagOf, googHashOf, objectResource, type StoredObject } from "./store.js";
import { keyMismatch, readCustomerKey } from "./csek.js";
import type { Exchange } from "./exchange.js";
import { InvalidRetryTestError, type Fault, type RequestKind, type RetryTest } from "./faults.js";
import type { EmulatorState } from "./state.js";
import { abortMultipart, completeMultipart, initiateMultipart, listParts, uploadPart } from "./multipart.js";
import { singleRequestUpload } from "./single-request.js";
import { cancelSession, failWith, putToSession, sessionTarget, startJsonUpload, startXmlUpload, type SessionTarget } from "./uploads.js";

/** Retry-test method names of the operations this emulator serves. */
export type OperationName =
  | "storage.buckets.insert"
  | "storage.buckets.get"
  | "storage.objects.insert"
  | "storage.objects.get"
  | "storage.objects.list"
  | "storage.objects.delete";

const JSON_OBJECT = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/;
const DOWNLOAD_OBJECT = /^\/download\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/;
const UPLOAD = /^\/upload\/storage\/v1\/b\/([^/]+)\/o\/?$/;
const BUCKET = /^\/storage\/v1\/b\/([^/]+)\/?$/;
const LIST = /^\/storage\/v1\/b\/([^/]+)\/o\/?$/;
const RETRY_TEST = /^\/retry_test\/([^/]+)$/;
const XML_OBJECT = /^\/([^/]+)\/(.+)$/;

/** Answers one request. */
export async function route(ex: Exchange, state: EmulatorState): Promise<void> {
  const { method, path } = ex;
  ex.cors = state.corsPolicy(bucketOfPath(path));
  if (method === "OPTIONS") return preflight(ex, state);

  if (path === "/retry_test" && method === "POST") return registerRetryTest(ex, state);
  if (path === "/retry_tests" && method === "GET") return ex.json(200, { retry_tests: state.retryTests.list().map(retryTestView) });
  let match = RETRY_TEST.exec(path);
  if (match) return retryTest(ex, state, decode(match[1]));

  if (path === "/storage/v1/b" || path === "/storage/v1/b/") {
    if (method !== "POST") return notAllowed(ex);
    return (await enter(ex, state, "storage.buckets.insert")) === "answered" ? undefined : insertBucket(ex, state);
  }
  if ((match = BUCKET.exec(path))) {
    const name = decode(match[1]);
    if (method === "PATCH") return patchBucket(ex, state, name);
    if (method !== "GET") return notAllowed(ex);
    if ((await enter(ex, state, "storage.buckets.get")) === "answered") return;
    const bucket = state.buckets.get(name);
    return bucket ? ex.json(200, bucketResource(bucket, ex.baseUrl)) : bucketNotFound(ex, name);
  }
  if ((match = LIST.exec(path))) {
    if (method !== "GET") return notAllowed(ex);
    if ((await enter(ex, state, "storage.objects.list")) === "answered") return;
    return listObjects(ex, state, decode(match[1]));
  }
  if ((match = JSON_OBJECT.exec(path))) {
    const [bucket, name] = [decode(match[1]), decode(match[2])];
    if (method === "GET") {
      if ((await enter(ex, state, "storage.objects.get")) === "answered") return;
      return getObject(ex, state, bucket, name, ex.query.get("alt") === "media");
    }
    if (method === "DELETE") {
      if ((await enter(ex, state, "storage.objects.delete")) === "answered") return;
      return deleteObject(ex, state, bucket, name);
    }
    return notAllowed(ex);
  }
  if ((match = DOWNLOAD_OBJECT.exec(path))) {
    if (method !== "GET") return notAllowed(ex);
    if ((await enter(ex, state, "storage.objects.get")) === "answered") return;
    return getObject(ex, state, decode(match[1]), decode(match[2]), true);
  }
  if ((match = UPLOAD.exec(path))) {
    if (ex.query.has("upload_id")) return sessionRequest(ex, state);
    if (method !== "POST") return notAllowed(ex);
    const uploadType = ex.query.get("uploadType");
    if (uploadType === "multipart" || uploadType === "media") {
      // One request that carries the bytes and ends the upload.
      const fault = await enter(ex, state, "storage.objects.insert", ["single", "chunk", "final"], true);
      return fault === "answered" ? undefined : singleRequestUpload(ex, state, decode(match[1]), fault);
    }
    const fault = await enter(ex, state, "storage.objects.insert", ["start"]);
    return fault === "answered" ? undefined : startJsonUpload(ex, state, decode(match[1]), fault);
  }
  if ((match = XML_OBJECT.exec(path)) && !path.startsWith("/storage/") && !path.startsWith("/upload/")) {
    if (ex.query.has("upload_id")) return sessionRequest(ex, state);
    const [bucket, name] = [decode(match[1]), match[2]!.split("/").map(decode).join("/")];
    if (ex.query.has("uploads") || ex.query.has("uploadId")) return multipartRequest(ex, state, bucket, name);
    if (method === "POST" && ex.header("x-goog-resumable")?.toLowerCase() === "start") {
      const fault = await enter(ex, state, "storage.objects.insert", ["start"]);
      return fault === "answered" ? undefined : startXmlUpload(ex, state, bucket, name, fault);
    }
    if (method === "GET") {
      if ((await enter(ex, state, "storage.objects.get")) === "answered") return;
      return getObject(ex, state, bucket, name, true);
    }
    return ex.error(400, "invalid", "Only resumable uploads (POST with x-goog-resumable: start) and downloads are served at XML paths.");
  }
  if (path === "/" && method === "GET") return ex.json(200, { kind: "gcs-emulator", buckets: [...state.buckets.keys()] });
  return ex.error(404, "notFound", `Not Found: ${method} ${path}`);
}

/** Session requests (JSON or XML path): PUT chunks and queries, DELETE to cancel. */
async function sessionRequest(ex: Exchange, state: EmulatorState): Promise<void> {
  if (ex.method !== "PUT" && ex.method !== "DELETE" && ex.method !== "POST") return notAllowed(ex);
  // Whether the request ends the upload is known before its body is read: the final-chunk fault needs it.
  const target = sessionTarget(ex, state);
  const endsUpload = target.endsUpload && ex.method !== "DELETE";
  const fault = await enter(ex, state, "storage.objects.insert", sessionKinds(ex.method, target), endsUpload);
  if (fault === "answered") return;
  return ex.method === "DELETE" ? cancelSession(ex, state, target) : putToSession(ex, state, target, fault);
}

/** The XML API multipart upload routes, with their request kinds (each also counts as its generic kind). */
const MULTIPART_ROUTES: Readonly<
  Record<string, { kinds: RequestKind[]; run: typeof uploadPart }>
> = {
  "POST uploads": { kinds: ["start", "mp-initiate"], run: initiateMultipart },
  "PUT uploadId": { kinds: ["chunk", "mp-part"], run: uploadPart },
  "POST uploadId": { kinds: ["final", "mp-complete"], run: completeMultipart },
  "DELETE uploadId": { kinds: ["delete", "mp-abort"], run: abortMultipart },
  "GET uploadId": { kinds: ["query", "mp-list"], run: listParts },
};

/** `?uploads` (initiate) and `?uploadId=` (part, complete, abort, list) requests; their errors are XML. */
async function multipartRequest(ex: Exchange, state: EmulatorState, bucket: string, name: string): Promise<void> {
  ex.errorFormat = "xml";
  const route = MULTIPART_ROUTES[`${ex.method} ${ex.query.has("uploads") ? "uploads" : "uploadId"}`];
  if (!route) return ex.error(405, "MethodNotAllowed", `Method ${ex.method} is not allowed on a multipart upload.`);
  const fault = await enter(ex, state, "storage.objects.insert", route.kinds, route.kinds.includes("mp-complete"));
  return fault === "answered" ? undefined : route.run(ex, state, bucket, name, fault);
}

/** The request kinds of a session request: a DELETE, a status query, a chunk; `final` when it ends the upload. */
function sessionKinds(method: string, target: SessionTarget): RequestKind[] {
  if (method === "DELETE") return ["delete"];
  const shape: RequestKind = target.range !== "invalid" && target.range.kind === "query" ? "query" : "chunk";
  if (!target.endsUpload) return [shape];
  return shape === "query" ? ["final"] : ["chunk", "final"];
}

/**
 * Takes the next instruction for `operation` when the request names a retry test. Entry faults are
 * answered here ("answered"); body faults are set on the exchange; the fault is returned for the
 * operation to apply the rest (`status-after`, `short-ack`).
 */
async function enter(
  ex: Exchange,
  state: EmulatorState,
  operation: OperationName,
  kinds: readonly RequestKind[] = [],
  endsUpload = false,
): Promise<Fault | undefined | "answered"> {
  const id = ex.header("x-retry-test-id");
  if (id === undefined) return undefined;
  if (!state.retryTests.has(id)) {
    await ex.error(400, "invalid", `Unknown retry test id "${id}" in x-retry-test-id.`);
    return "answered";
  }
  const taken = state.retryTests.take(id, { method: operation, kinds, endsUpload });
  if (!taken) return undefined;
  ex.faultLabel = taken.instruction;
  const fault = taken.fault;
  switch (fault.kind) {
    case "status":
      await failWith(ex, fault.status);
      return "answered";
    case "reset":
      ex.reset();
      return "answered";
    case "reset-after":
      ex.bodyFault = fault;
      return fault;
    case "stall":
      // A download stalls its response body; anything else stalls reading the request body.
      if (ex.method === "GET") ex.cutResponse(fault);
      else ex.bodyFault = fault;
      return fault;
    case "broken-stream":
    case "broken-stream-after":
    case "broken-final":
    case "truncated-final":
      ex.cutResponse(fault);
      return fault;
    case "status-after":
      // Only a chunk upload persists part of its body first; elsewhere: read the body, then fail.
      if (operation !== "storage.objects.insert") {
        await ex.drain();
        await failWith(ex, fault.status);
        return "answered";
      }
      return fault;
    case "short-ack":
      return fault;
  }
}

/** Answers a CORS preflight under the bucket's policy (no CORS headers at all when it does not allow the request). */
async function preflight(ex: Exchange, state: EmulatorState): Promise<void> {
  const uploadId = ex.query.get("upload_id");
  if (uploadId !== null) {
    const lookup = state.session(uploadId);
    if (lookup.found && lookup.session.origin !== undefined) ex.origin = lookup.session.origin;
  }
  const headers = corsPreflightHeaders(ex.cors, ex.origin, ex.header("access-control-request-method"), ex.header("access-control-request-headers"));
  return ex.send(200, headers);
}

/** The bucket a path addresses (JSON, upload, download and XML forms), if any. */
function bucketOfPath(path: string): string | undefined {
  const match = /^\/(?:storage\/v1\/b|upload\/storage\/v1\/b|download\/storage\/v1\/b)\/([^/]+)/.exec(path) ?? (RESERVED.test(path) ? null : /^\/([^/]+)\/./.exec(path));
  return match ? decode(match[1]) : undefined;
}

/** Paths of our own that are not XML API buckets. */
const RESERVED = /^\/(?:storage|upload|download|retry_test|retry_tests)(?:\/|$)/;

async function registerRetryTest(ex: Exchange, state: EmulatorState): Promise<void> {
  const body = await ex.readBody(1024 * 1024);
  if (body === undefined) return ex.answered ? undefined : ex.error(413, "invalid", "Retry test body too large.");
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return ex.error(400, "parseError", "The retry test body is not valid JSON.");
  }
  const instructions = (parsed as { instructions?: unknown } | null)?.instructions;
  try {
    return ex.json(200, retryTestView(state.retryTests.register(instructions)));
  } catch (error) {
    if (error instanceof InvalidRetryTestError) return ex.error(400, "invalid", error.message);
    throw error;
  }
}

async function retryTest(ex: Exchange, state: EmulatorState, id: string): Promise<void> {
  const test = state.retryTests.get(id);
  if (!test) return ex.error(404, "notFound", `No retry test "${id}".`);
  if (ex.method === "GET") return ex.json(200, retryTestView(test));
  if (ex.method === "DELETE") {
    state.retryTests.delete(id);
    return ex.json(200, retryTestView(test));
  }
  return notAllowed(ex);
}

function retryTestView(test: RetryTest): Record<string, unknown> {
  return { ...test, transport: "HTTP" };
}

async function insertBucket(ex: Exchange, state: EmulatorState): Promise<void> {
  const body = await ex.readBody(1024 * 1024);
  if (body === undefined) return ex.answered ? undefined : ex.error(413, "invalid", "Bucket body too large.");
  let resource: { name?: unknown; cors?: unknown } | null;
  try {
    resource = JSON.parse(body.toString("utf8") || "{}") as { name?: unknown; cors?: unknown } | null;
  } catch {
    return ex.error(400, "parseError", "The bucket body is not valid JSON.");
  }
  const name = resource?.name;
  if (typeof name !== "string") return ex.error(400, "required", "Required: name.");
  const problem = bucketNameProblem(name) ?? (resource?.cors === undefined ? undefined : corsProblem(resource.cors));
  if (problem) return ex.error(400, "invalid", problem);
  if (!state.createBucket(name, resource?.cors as CorsRule[] | undefined)) return ex.error(409, "conflict", `The bucket ${name} already exists.`);
  return ex.json(200, bucketResource(state.buckets.get(name)!, ex.baseUrl));
}

/** `PATCH /storage/v1/b/{bucket}`: only `cors` is modelled (`null` removes it); other fields are refused. */
async function patchBucket(ex: Exchange, state: EmulatorState, name: string): Promise<void> {
  const body = await ex.readBody(1024 * 1024);
  if (body === undefined) return ex.answered ? undefined : ex.error(413, "invalid", "Bucket body too large.");
  const bucket = state.buckets.get(name);
  if (!bucket) return bucketNotFound(ex, name);
  let patch: unknown;
  try {
    patch = JSON.parse(body.toString("utf8"));
  } catch {
    return ex.error(400, "parseError", "The bucket patch is not valid JSON.");
  }
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return ex.error(400, "invalid", "The bucket patch must be a JSON object.");
  const { cors, ...rest } = patch as { cors?: unknown };
  const other = Object.keys(rest);
  if (other.length > 0) return ex.error(400, "invalid", `This emulator patches only "cors" on buckets, not ${other.join(", ")}.`);
  if (cors !== null && cors !== undefined) {
    const problem = corsProblem(cors);
    if (problem) return ex.error(400, "invalid", problem);
  }
  if (cors !== undefined) bucket.cors = cors === null ? undefined : (cors as CorsRule[]);
  return ex.json(200, bucketResource(bucket, ex.baseUrl));
}

function listObjects(ex: Exchange, state: EmulatorState, bucketName: string): Promise<void> {
  const bucket = state.buckets.get(bucketName);
  if (!bucket) return bucketNotFound(ex, bucketName);
  const prefix = ex.query.get("prefix") ?? "";
  const items = [...bucket.objects.values()]
    .filter((object) => object.name.startsWith(prefix))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((object) => objectResource(object, ex.baseUrl));
  return ex.json(200, items.length > 0 ? { kind: "storage#objects", items } : { kind: "storage#objects" });
}

function getObject(ex: Exchange, state: EmulatorState, bucketName: string, name: string, media: boolean): Promise<void> {
  if (!state.buckets.has(bucketName)) return bucketNotFound(ex, bucketName);
  const object = state.object(bucketName, name);
  const generation = ex.query.get("generation");
  if (!object || (generation !== null && generation !== object.generation)) {
    return ex.error(404, "notFound", `No such object: ${bucketName}/${name}`);
  }
  if (!media) return ex.json(200, objectResource(object, ex.baseUrl));
  if (object.customerKey) {
    const problem = keyMismatch(object.customerKey, readCustomerKey(ex.req.headers));
    if (problem) return ex.error(400, "customerEncryptionKeyRequired", problem.replace("This upload was started", "The object is encrypted"));
  }
  if (!object.chunks) {
    return ex.error(501, "notImplemented", "The emulator runs with storage: discard; object bytes are not kept, only size and checksums.");
  }
  return sendMedia(ex, object, Buffer.concat(object.chunks));
}

function sendMedia(ex: Exchange, object: StoredObject, data: Buffer): Promise<void> {
  const headers: Record<string, string> = {
    "Content-Type": object.contentType,
    "Accept-Ranges": "bytes",
    ETag: etagOf(object),
    "X-Goog-Generation": object.generation,
    "X-Goog-Metageneration": object.metageneration,
    "X-Goog-Hash": googHashOf(object),
    "X-Goog-Stored-Content-Length": String(object.size),
  };
  const range = ex.header("range");
  if (range === undefined) return ex.send(200, headers, data);
  const match = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  let first = match?.[1] === "" ? undefined : Number(match?.[1]);
  let last = match?.[2] === "" ? undefined : Number(match?.[2]);
  if (!match || (first === undefined && last === undefined)) return ex.send(200, headers, data);
  if (first === undefined) {
    first = Math.max(0, data.length - last!);
    last = data.length - 1;
  } else last = Math.min(last ?? data.length - 1, data.length - 1);
  if (first >= data.length || first > last) {
    return ex.error(416, "requestedRangeNotSatisfiable", "The requested range cannot be satisfied.", { "Content-Range": `bytes */${data.length}` });
  }
  headers["Content-Range"] = `bytes ${first}-${last}/${data.length}`;
  return ex.send(206, headers, data.subarray(first, last + 1));
}

async function deleteObject(ex: Exchange, state: EmulatorState, bucketName: string, name: string): Promise<void> {
  const bucket = state.buckets.get(bucketName);
  if (!bucket) return bucketNotFound(ex, bucketName);
  if (!bucket.objects.delete(name)) return ex.error(404, "notFound", `No such object: ${bucketName}/${name}`);
  return ex.send(204, {});
}

function bucketNotFound(ex: Exchange, name: string): Promise<void> {
  return ex.error(404, "notFound", `The specified bucket does not exist: ${name}.`);
}

function notAllowed(ex: Exchange): Promise<void> {
  return ex.error(405, "methodNotAllowed", `Method ${ex.method} is not allowed on ${ex.path}.`);
}

function decode(segment: string | undefined): string {
  try {
    return decodeURIComponent(segment ?? "");
  } catch {
    return segment ?? "";
  }
}
