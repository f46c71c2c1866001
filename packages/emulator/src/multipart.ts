/**
 * The XML API multipart upload (S3-compatible), server side. Rules, per request:
 *
 * - Initiate `POST /{bucket}/{object}?uploads`: the object's metadata comes from the headers
 *   (`Content-Type`, `Cache-Control`, `Content-Disposition`, `Content-Encoding`, `Content-Language`,
 *   `x-goog-meta-*`, `x-goog-acl`, `x-goog-storage-class`, `x-goog-encryption-*` or
 *   `x-goog-encryption-kms-key-name`; `x-goog-user-project` is accepted). 200 with an
 *   `InitiateMultipartUploadResult` carrying the `UploadId`. An upload never expires by itself.
 * - Part `PUT ?partNumber=N&uploadId=ID`: N is an integer 1..10000, the body at most 5 GiB. A part is
 *   stored whole or not at all (a cut body stores nothing); `Content-MD5` and `x-goog-hash` (crc32c, md5)
 *   are checked when sent (400 `BadDigest` on a mismatch, `InvalidDigest` when malformed). The same
 *   customer-supplied key headers as at initiate are required. Re-sending a part number replaces it.
 *   200 with the part's `ETag` (quoted MD5 hex) and `x-goog-hash`.
 * - Complete `POST ?uploadId=ID` with a `CompleteMultipartUpload` document: parts listed in strictly
 *   ascending order (`InvalidPartOrder`), each uploaded with that ETag (`InvalidPart`; surrounding quotes
 *   optional), every listed part but the last at least 5 MiB (`EntityTooSmall`), malformed or empty
 *   lists `MalformedXML`; then `x-goog-if-generation-match` / `x-goog-if-metageneration-match` (412
 *   `PreconditionFailed`). A refused complete changes nothing. On success the object is the listed parts
 *   in order, with a CRC32C (combined from the parts) and NO MD5; its ETag is not an MD5. The upload and
 *   all its parts, listed or not, are gone: a complete retried after its response was lost gets 404
 *   `NoSuchUpload` (read the object to learn it exists).
 * - Abort `DELETE ?uploadId=ID`: 204, the parts are gone, later requests get 404 `NoSuchUpload`.
 * - List parts `GET ?uploadId=ID[&max-parts=M][&part-number-marker=P]`: `ListPartsResult`, at most 1000
 *   parts per page, `IsTruncated` / `NextPartNumberMarker` for the next page.
 * Errors on these routes are XML `<Error><Code>...</Code><Message>...</Message></Error>` documents.
 */
import { ObjectData, crc32cCombine, crc32cToBase64, isBase64OfLength, parseGoogHash } from "./checksums.js";
import { keyMismatch, readCustomerKey } from "./csek.js";
import type { Exchange } from "./exchange.js";
import type { Fault } from "./faults.js";
import { randomId, type EmulatorState } from "./state.js";
import {
  etagOf,
  googHashOf,
  objectNameProblem,
  preconditionFailure,
  type MultipartUpload,
  type ObjectMetadataInput,
  type StoredPart,
} from "./store.js";
import { preconditionsFrom, failWith } from "./uploads.js";
import { XmlSyntaxError, parseXml, xmlDocument, type XmlElement } from "./xml.js";

const MIB = 1024 * 1024;
/** Every part but the last must be at least this large (checked at complete). */
export const MIN_PART_SIZE = 5 * MIB;
/** The largest part. */
export const MAX_PART_SIZE = 5 * 1024 * MIB;
/** Part numbers run from 1 to this. */
export const MAX_PART_NUMBER = 10_000;
const MAX_LIST_PARTS = 1000;
/** A complete document lists at most 10,000 parts of about 100 bytes each. */
const MAX_COMPLETE_BODY = 4 * MIB;

/** The canned ACLs the XML API knows for `x-goog-acl`. */
const CANNED_ACLS = new Set([
  "private",
  "project-private",
  "public-read",
  "public-read-write",
  "authenticated-read",
  "bucket-owner-read",
  "bucket-owner-full-control",
]);

const XML_CONDITION_HEADERS: Readonly<Record<string, string>> = {
  ifGenerationMatch: "x-goog-if-generation-match",
  ifGenerationNotMatch: "x-goog-if-generation-not-match",
  ifMetagenerationMatch: "x-goog-if-metageneration-match",
  ifMetagenerationNotMatch: "x-goog-if-metageneration-not-match",
};

/** `POST /{bucket}/{object}?uploads`. */
export async function initiateMultipart(ex: Exchange, state: EmulatorState, bucketName: string, name: string, fault: Fault | undefined): Promise<void> {
  await ex.drain();
  if (ex.answered) return;
  if (fault?.kind === "status-after") return failWith(ex, fault.status);
  if (!state.bucket(bucketName)) return ex.error(404, "NoSuchBucket", `The specified bucket does not exist: ${bucketName}.`);
  const nameProblem = objectNameProblem(name);
  if (nameProblem) return ex.error(400, "InvalidArgument", nameProblem);
  const key = readCustomerKey(ex.req.headers);
  if (!key.ok) return ex.error(400, "CustomerEncryptionKeyFormatIsInvalid", key.message);
  const meta: ObjectMetadataInput = {};
  const metadata: Record<string, string> = {};
  for (const [header, value] of Object.entries(ex.req.headers)) {
    if (header.startsWith("x-goog-meta-") && value !== undefined) metadata[header.slice(12)] = String(value);
  }
  if (Object.keys(metadata).length > 0) meta.metadata = metadata;
  for (const [field, header] of [
    ["contentType", "content-type"],
    ["cacheControl", "cache-control"],
    ["contentDisposition", "content-disposition"],
    ["contentEncoding", "content-encoding"],
    ["contentLanguage", "content-language"],
    ["storageClass", "x-goog-storage-class"],
    ["kmsKeyName", "x-goog-encryption-kms-key-name"],
    ["predefinedAcl", "x-goog-acl"],
  ] as const) {
    const value = ex.header(header);
    if (value !== undefined && value !== "") meta[field] = value;
  }
  if (meta.predefinedAcl !== undefined && !CANNED_ACLS.has(meta.predefinedAcl)) {
    return ex.error(400, "InvalidArgument", `Invalid x-goog-acl "${meta.predefinedAcl}": use one of ${[...CANNED_ACLS].join(", ")}.`);
  }
  if (meta.kmsKeyName !== undefined && key.key !== undefined) {
    return ex.error(400, "InvalidArgument", "A customer-supplied encryption key and x-goog-encryption-kms-key-name cannot be used together.");
  }
  const upload: MultipartUpload = {
    uploadId: randomId(24),
    bucket: bucketName,
    name,
    initiated: new Date(state.options.now()).toISOString(),
    meta,
    customerKey: key.key,
    parts: new Map(),
  };
  state.multipartUploads.set(upload.uploadId, upload);
  return sendXml(ex, 200, xmlDocument("InitiateMultipartUploadResult", { Bucket: bucketName, Key: name, UploadId: upload.uploadId }));
}

/** Finds the upload a request names, answering 404 `NoSuchUpload` (or 400 for a key mismatch) otherwise. */
async function openUpload(ex: Exchange, state: EmulatorState, bucketName: string, name: string, checkKey: boolean): Promise<MultipartUpload | undefined> {
  const upload = state.multipartUploads.get(ex.query.get("uploadId") ?? "");
  if (!upload || upload.bucket !== bucketName || upload.name !== name) {
    await ex.error(404, "NoSuchUpload", "The requested upload was not found: it was completed, aborted, or never existed.");
    return undefined;
  }
  if (checkKey) {
    const problem = keyMismatch(upload.customerKey, readCustomerKey(ex.req.headers));
    if (problem) {
      await ex.error(400, "CustomerEncryptionKeyIsIncorrect", problem.replace("This upload was started", "This multipart upload was initiated"));
      return undefined;
    }
  }
  return upload;
}

/** `PUT ?partNumber=N&uploadId=ID`. */
export async function uploadPart(ex: Exchange, state: EmulatorState, bucketName: string, name: string, fault: Fault | undefined): Promise<void> {
  const upload = await openUpload(ex, state, bucketName, name, true);
  if (!upload) return;
  const numberText = ex.query.get("partNumber") ?? "";
  const partNumber = Number(numberText);
  if (!/^\d+$/.test(numberText) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    return ex.error(400, "InvalidArgument", `partNumber must be an integer from 1 to ${MAX_PART_NUMBER}, not "${numberText}".`);
  }
  const length = ex.header("content-length");
  if (length !== undefined && Number(length) > MAX_PART_SIZE) {
    return ex.error(400, "EntityTooLarge", `A part is at most ${MAX_PART_SIZE} bytes; this one says ${length}.`);
  }
  const hashes = parseGoogHash(ex.header("x-goog-hash"));
  if (!hashes.ok) return ex.error(400, "InvalidDigest", hashes.message);
  const contentMd5 = ex.header("content-md5");
  if (contentMd5 !== undefined && !isBase64OfLength(contentMd5, 16)) {
    return ex.error(400, "InvalidDigest", `Content-MD5 "${contentMd5}" is not the base64 of 16 bytes.`);
  }
  if ((hashes.value.md5 !== undefined || contentMd5 !== undefined) && !state.options.md5) {
    return ex.error(400, "InvalidDigest", "An MD5 cannot be checked: this emulator runs without MD5 (md5: false / --no-md5). Send x-goog-hash crc32c only.");
  }
  const data = new ObjectData(state.keepBytes, state.options.md5);
  let size = 0;
  const outcome = await ex.streamBody((chunk) => {
    size += chunk.length;
    if (size <= MAX_PART_SIZE) data.append(chunk);
  });
  // A part is all or nothing: a cut or reset body stores nothing.
  if (outcome === "cut") ex.noteCut("part not stored");
  if (outcome !== "complete") return;
  if (fault?.kind === "status-after") return failWith(ex, fault.status);
  if (size > MAX_PART_SIZE) return ex.error(400, "EntityTooLarge", `A part is at most ${MAX_PART_SIZE} bytes.`);
  const digests = data.digests();
  const checks: [string | undefined, string | undefined, string][] = [
    [hashes.value.crc32c, digests.crc32c, "x-goog-hash crc32c"],
    [hashes.value.md5, digests.md5Hash, "x-goog-hash md5"],
    [contentMd5, digests.md5Hash, "Content-MD5"],
  ];
  for (const [given, computed, label] of checks) {
    if (given !== undefined && given !== computed) {
      return ex.error(400, "BadDigest", `The ${label} you specified ("${given}") did not match what we received ("${computed}"); the part was not stored.`);
    }
  }
  // Aborted or completed while this part was arriving: there is nothing left to add it to.
  if (state.multipartUploads.get(upload.uploadId) !== upload) {
    return ex.error(404, "NoSuchUpload", "The upload was completed or aborted while this part was being sent.");
  }
  const md5Hex = digests.md5Hash === undefined ? undefined : Buffer.from(digests.md5Hash, "base64").toString("hex");
  const etag = `"${md5Hex ?? `${data.crc32cValue.toString(16).padStart(8, "0")}${size.toString(16)}`}"`;
  const part: StoredPart = {
    partNumber,
    etag,
    size,
    crc: data.crc32cValue,
    md5Hash: digests.md5Hash,
    chunks: data.chunks(),
    lastModified: new Date(state.options.now()).toISOString(),
  };
  upload.parts.set(partNumber, part);
  const googHash = digests.md5Hash === undefined ? `crc32c=${digests.crc32c}` : `crc32c=${digests.crc32c},md5=${digests.md5Hash}`;
  return ex.send(200, { ETag: etag, "X-Goog-Hash": googHash });
}

/** `POST ?uploadId=ID` with the part list. */
export async function completeMultipart(ex: Exchange, state: EmulatorState, bucketName: string, name: string, fault: Fault | undefined): Promise<void> {
  const upload = await openUpload(ex, state, bucketName, name, true);
  if (!upload) return;
  const body = await ex.readBody(MAX_COMPLETE_BODY);
  if (body === undefined) return ex.answered ? undefined : ex.error(400, "MalformedXML", "The CompleteMultipartUpload document is larger than 4 MiB.");
  if (fault?.kind === "status-after") return failWith(ex, fault.status);
  const listed = readPartList(body.toString("utf8"));
  if (typeof listed === "string") return ex.error(400, "MalformedXML", listed);
  let previous = 0;
  for (const { partNumber } of listed) {
    if (partNumber <= previous) {
      return ex.error(400, "InvalidPartOrder", `Parts must be listed in ascending order without repeats: ${partNumber} follows ${previous}.`);
    }
    previous = partNumber;
  }
  const parts: StoredPart[] = [];
  for (const { partNumber, etag } of listed) {
    const part = upload.parts.get(partNumber);
    if (!part || unquote(part.etag) !== unquote(etag)) {
      return ex.error(400, "InvalidPart", part ? `Part ${partNumber} has ETag ${part.etag}, not ${etag}.` : `Part ${partNumber} was not uploaded.`);
    }
    parts.push(part);
  }
  const small = parts.slice(0, -1).find((part) => part.size < MIN_PART_SIZE);
  if (small) {
    return ex.error(400, "EntityTooSmall", `Part ${small.partNumber} has ${small.size} bytes: every part but the last must be at least ${MIN_PART_SIZE}.`);
  }
  const preconditions = preconditionsFrom((param) => ex.header(XML_CONDITION_HEADERS[param] ?? ""));
  if (typeof preconditions === "string") return ex.error(400, "InvalidArgument", preconditions);
  const bucket = state.buckets.get(upload.bucket);
  if (!bucket) return ex.error(404, "NoSuchBucket", `The specified bucket does not exist: ${upload.bucket}.`);
  const failure = preconditionFailure(bucket.objects.get(upload.name), preconditions);
  if (failure) return ex.error(412, "PreconditionFailed", `Precondition failed: ${failure}`);

  let crc = 0;
  for (const part of parts) crc = crc32cCombine(crc, part.crc, part.size);
  const object = state.commitObject({
    bucket,
    name: upload.name,
    meta: upload.meta,
    customerKey: upload.customerKey,
    size: parts.reduce((sum, part) => sum + part.size, 0),
    crc32c: crc32cToBase64(crc),
    // GCS: an object assembled from parts has a CRC32C but no MD5.
    md5Hash: undefined,
    chunks: state.keepBytes ? parts.flatMap((part) => part.chunks ?? []) : undefined,
  });
  // The upload and every part, listed or not, no longer exist.
  state.multipartUploads.delete(upload.uploadId);
  const etag = `"${etagOf(object)}"`;
  const location = `${ex.baseUrl}/${upload.bucket}/${upload.name.split("/").map(encodeURIComponent).join("/")}`;
  return sendXml(ex, 200, xmlDocument("CompleteMultipartUploadResult", { Location: location, Bucket: upload.bucket, Key: upload.name, ETag: etag }), {
    ETag: etag,
    "X-Goog-Hash": googHashOf(object),
    "X-Goog-Generation": object.generation,
    "X-Goog-Metageneration": object.metageneration,
    "X-Goog-Stored-Content-Length": String(object.size),
  });
}

/** `DELETE ?uploadId=ID`. */
export async function abortMultipart(ex: Exchange, state: EmulatorState, bucketName: string, name: string, fault: Fault | undefined): Promise<void> {
  const upload = await openUpload(ex, state, bucketName, name, false);
  if (!upload) return;
  if (fault?.kind === "status-after") {
    await ex.drain();
    return failWith(ex, fault.status);
  }
  state.multipartUploads.delete(upload.uploadId);
  return ex.send(204, {});
}

/** `GET ?uploadId=ID`. */
export async function listParts(ex: Exchange, state: EmulatorState, bucketName: string, name: string, fault: Fault | undefined): Promise<void> {
  const upload = await openUpload(ex, state, bucketName, name, false);
  if (!upload) return;
  if (fault?.kind === "status-after") {
    await ex.drain();
    return failWith(ex, fault.status);
  }
  const maxText = ex.query.get("max-parts");
  const markerText = ex.query.get("part-number-marker");
  const maxParts = maxText === null ? MAX_LIST_PARTS : Number(maxText);
  const marker = markerText === null ? 0 : Number(markerText);
  if (!Number.isSafeInteger(maxParts) || maxParts < 0 || (maxText !== null && !/^\d+$/.test(maxText))) {
    return ex.error(400, "InvalidArgument", `max-parts must be a non-negative integer, not "${maxText}".`);
  }
  if (!Number.isSafeInteger(marker) || marker < 0 || (markerText !== null && !/^\d+$/.test(markerText))) {
    return ex.error(400, "InvalidArgument", `part-number-marker must be a non-negative integer, not "${markerText}".`);
  }
  const limit = Math.min(maxParts, MAX_LIST_PARTS);
  const after = [...upload.parts.values()].filter((part) => part.partNumber > marker).sort((a, b) => a.partNumber - b.partNumber);
  const page = after.slice(0, limit);
  const truncated = after.length > page.length;
  return sendXml(
    ex,
    200,
    xmlDocument("ListPartsResult", {
      Bucket: upload.bucket,
      Key: upload.name,
      UploadId: upload.uploadId,
      StorageClass: upload.meta.storageClass ?? "STANDARD",
      PartNumberMarker: marker,
      NextPartNumberMarker: page.at(-1)?.partNumber ?? marker,
      MaxParts: limit,
      IsTruncated: truncated,
      Part: page.map((part) => ({ PartNumber: part.partNumber, LastModified: part.lastModified, ETag: part.etag, Size: part.size })),
    }),
  );
}

/** The parts a `CompleteMultipartUpload` document lists, or the reason it is malformed. */
function readPartList(text: string): { partNumber: number; etag: string }[] | string {
  let root: XmlElement;
  try {
    root = parseXml(text);
  } catch (error) {
    if (error instanceof XmlSyntaxError) return `The CompleteMultipartUpload body is not well-formed XML: ${error.message}.`;
    throw error;
  }
  if (root.name !== "CompleteMultipartUpload") return `The root element must be CompleteMultipartUpload, not ${root.name}.`;
  if (root.children.length === 0) return "CompleteMultipartUpload must list at least one Part.";
  const parts: { partNumber: number; etag: string }[] = [];
  for (const part of root.children) {
    if (part.name !== "Part") return `Unexpected element ${part.name} in CompleteMultipartUpload (only Part).`;
    const numbers = part.children.filter((child) => child.name === "PartNumber");
    const etags = part.children.filter((child) => child.name === "ETag");
    const other = part.children.find((child) => child.name !== "PartNumber" && child.name !== "ETag");
    if (other) return `Unexpected element ${other.name} in Part (only PartNumber and ETag).`;
    if (numbers.length !== 1 || etags.length !== 1) return "Every Part needs exactly one PartNumber and one ETag.";
    const numberText = numbers[0]!.text.trim();
    const partNumber = Number(numberText);
    if (!/^\d+$/.test(numberText) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
      return `PartNumber must be an integer from 1 to ${MAX_PART_NUMBER}, not "${numberText}".`;
    }
    parts.push({ partNumber, etag: etags[0]!.text.trim() });
  }
  return parts;
}

function unquote(etag: string): string {
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}

function sendXml(ex: Exchange, status: number, document: string, headers: Record<string, string> = {}): Promise<void> {
  return ex.send(status, { "Content-Type": "application/xml; charset=UTF-8", ...headers }, Buffer.from(document));
}
