/**
 * The wire format of the XML multipart API (docs/protocol.md#xml-multipart-api): how each request is written.
 * No decisions live here; the machine makes them.
 *
 * | purpose         | request                                                             |
 * | --------------- | ------------------------------------------------------------------- |
 * | `initiate`      | `POST {endpoint}/{bucket}/{object}?uploads` with the object's metadata headers |
 * | `part`          | `PUT …?partNumber=N&uploadId=ID`, body = the part, `x-goog-hash` / `Content-MD5` |
 * | `complete`      | `POST …?uploadId=ID`, body = CompleteMultipartUpload XML, preconditions |
 * | `abort`         | `DELETE …?uploadId=ID`                                              |
 * | `list`          | `GET …?uploadId=ID&max-parts=1000[&part-number-marker=M]`           |
 * | `metadata`      | `GET {endpoint}/storage/v1/b/{bucket}/o/{object}` (JSON API: the object's crc32c) |
 * | `delete-object` | `DELETE {endpoint}/storage/v1/b/{bucket}/o/{object}?generation=G`    |
 */
import { redactUploadId } from "../errors.js";
import type { TransportRequest } from "../transport.js";
import { encodeUtf8 } from "../utf8.js";
import type { ResolvedMultipartOptions } from "./multipart-options.js";
import { completeBody } from "./xml.js";

/** The object's XML API URL: each path segment of the name percent-encoded, `/` kept. */
export function objectUrl(o: ResolvedMultipartOptions): string {
  const path = o.name.split("/").map(encodeURIComponent).join("/");
  return `${o.endpoint}/${encodeURIComponent(o.bucket)}/${path}`;
}

function request(o: ResolvedMultipartOptions, method: TransportRequest["method"], url: string, headers: Record<string, string>, body: readonly Uint8Array[], bodyLength: number): TransportRequest {
  // Common headers first so the protocol's own always win.
  return { method, url, headers: { ...o.commonHeaders, ...headers, "content-length": String(bodyLength) }, body, bodyLength };
}

/** Initiates the multipart upload; the object's metadata travels here. */
export function initiateRequest(o: ResolvedMultipartOptions): TransportRequest {
  return request(o, "POST", `${objectUrl(o)}?uploads`, { ...o.initiateHeaders }, [], 0);
}

/** Uploads one part. `crc32c` / `md5` are base64 digests of the part, sent for GCS to check. */
export function partRequest(
  o: ResolvedMultipartOptions,
  uploadId: string,
  partNumber: number,
  body: readonly Uint8Array[],
  size: number,
  crc32c: string | undefined,
  md5: string | undefined,
): TransportRequest {
  const headers: Record<string, string> = {};
  if (crc32c !== undefined) headers["x-goog-hash"] = `crc32c=${crc32c}`;
  if (md5 !== undefined) headers["content-md5"] = md5;
  return request(o, "PUT", `${objectUrl(o)}?partNumber=${partNumber}&uploadId=${encodeURIComponent(uploadId)}`, headers, body, size);
}

/** Completes the upload from the parts' numbers and ETags (in part-number order). */
export function completeRequest(o: ResolvedMultipartOptions, uploadId: string, parts: readonly { readonly partNumber: number; readonly etag: string }[]): TransportRequest {
  const body = encodeUtf8(completeBody(parts));
  return request(o, "POST", `${objectUrl(o)}?uploadId=${encodeURIComponent(uploadId)}`, { "content-type": "application/xml", ...o.completeHeaders }, [body], body.length);
}

/** Aborts the upload: GCS deletes its parts. */
export function abortRequest(o: ResolvedMultipartOptions, uploadId: string): TransportRequest {
  return request(o, "DELETE", `${objectUrl(o)}?uploadId=${encodeURIComponent(uploadId)}`, {}, [], 0);
}

/** One page of the parts GCS holds for the upload. */
export function listPartsRequest(o: ResolvedMultipartOptions, uploadId: string, marker: number | undefined): TransportRequest {
  const page = marker === undefined ? "" : `&part-number-marker=${marker}`;
  return request(o, "GET", `${objectUrl(o)}?uploadId=${encodeURIComponent(uploadId)}&max-parts=1000${page}`, {}, [], 0);
}

function jsonObjectUrl(o: ResolvedMultipartOptions): string {
  return `${o.endpoint}/storage/v1/b/${encodeURIComponent(o.bucket)}/o/${encodeURIComponent(o.name)}`;
}

/** The object's metadata through the JSON API (its `crc32c`, `size`, `generation`). */
export function metadataRequest(o: ResolvedMultipartOptions, generation: string | undefined): TransportRequest {
  return request(o, "GET", `${jsonObjectUrl(o)}${generation === undefined ? "" : `?generation=${encodeURIComponent(generation)}`}`, {}, [], 0);
}

/** Deletes one generation of the object (after a checksum mismatch, when asked). */
export function deleteObjectRequest(o: ResolvedMultipartOptions, generation: string): TransportRequest {
  return request(o, "DELETE", `${jsonObjectUrl(o)}?generation=${encodeURIComponent(generation)}`, {}, [], 0);
}

/** What a request was, for messages: the upload id shortened (`AbCd…yZ`), never in full. */
export function describeMultipartRequest(r: TransportRequest): string {
  const url = r.url.replace(/([?&]uploadId=)([^&#]*)/, (_, key: string, id: string) => `${key}${redactUploadId(decodeURIComponent(id))}`);
  return `${r.method} ${url}`;
}
