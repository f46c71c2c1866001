/**
 * Buckets, live objects and upload sessions, and the JSON resources GCS shows for them.
 * One live generation per object name: a new upload of the same name replaces it.
 */
import type { ObjectData } from "./checksums.js";
import type { CorsRule } from "./cors.js";

/** Object metadata given at session start (JSON body, or XML headers). */
export interface ObjectMetadataInput {
  contentType?: string;
  metadata?: Record<string, string>;
  cacheControl?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  storageClass?: string;
  customTime?: string;
  kmsKeyName?: string;
  /** A predefined ACL asked for (`predefinedAcl`, `x-goog-acl`); kept for inspection, not enforced. */
  predefinedAcl?: string;
}

/** A customer-supplied encryption key, as remembered by a session and an object. */
export interface CustomerKey {
  readonly algorithm: string;
  readonly key: string;
  readonly keySha256: string;
}

/** A live object. */
export interface StoredObject {
  readonly bucket: string;
  readonly name: string;
  readonly generation: string;
  readonly metageneration: string;
  readonly size: number;
  readonly crc32c: string;
  /** Undefined when the emulator runs without MD5 (`md5: false`). */
  readonly md5Hash: string | undefined;
  readonly contentType: string;
  readonly meta: ObjectMetadataInput;
  readonly timeCreated: string;
  readonly customerKey: CustomerKey | undefined;
  /** Persisted buffers in memory mode; undefined in discard mode. */
  readonly chunks: readonly Buffer[] | undefined;
}

/** Generation / metageneration conditions of a write (docs/protocol.md#preconditions). */
export interface Preconditions {
  ifGenerationMatch?: number;
  ifGenerationNotMatch?: number;
  ifMetagenerationMatch?: number;
  ifMetagenerationNotMatch?: number;
}

/** An upload session. `data.size` is the persisted offset. */
export interface UploadSession {
  readonly uploadId: string;
  /** Sent back as `X-GUploader-UploadID`; not the capability, so it can be logged. */
  readonly guploaderId: string;
  readonly api: "json" | "xml";
  readonly bucket: string;
  readonly name: string;
  readonly createdAt: number;
  readonly meta: ObjectMetadataInput;
  readonly declared: { crc32c?: string; md5Hash?: string };
  readonly preconditions: Preconditions;
  /** `X-Upload-Content-Length` given at start. */
  readonly declaredTotal: number | undefined;
  /** The total a `Content-Range` stated once; every later statement must agree. */
  statedTotal: number | undefined;
  readonly customerKey: CustomerKey | undefined;
  /** The `Origin` the session was created from: its responses allow that origin. */
  readonly origin: string | undefined;
  readonly data: ObjectData;
  state: "open" | "final";
  object: StoredObject | undefined;
  /** Incremented by each request to the session; an older request that sees a newer token stops writing. */
  activeRequest: number;
}

/** One uploaded part of an XML API multipart upload. */
export interface StoredPart {
  readonly partNumber: number;
  /** Quoted, as sent in the `ETag` header (the MD5 hex of the part, or an opaque value without MD5). */
  readonly etag: string;
  readonly size: number;
  /** CRC32C as a number, to combine into the object's. */
  readonly crc: number;
  readonly md5Hash: string | undefined;
  /** The bytes (memory storage); undefined in discard mode. */
  readonly chunks: readonly Buffer[] | undefined;
  readonly lastModified: string;
}

/** An XML API multipart upload in progress (`POST ?uploads` until complete or abort). */
export interface MultipartUpload {
  readonly uploadId: string;
  readonly bucket: string;
  readonly name: string;
  readonly initiated: string;
  readonly meta: ObjectMetadataInput;
  readonly customerKey: CustomerKey | undefined;
  readonly parts: Map<number, StoredPart>;
}

/** A bucket and its live objects. */
export interface Bucket {
  readonly name: string;
  readonly timeCreated: string;
  readonly objects: Map<string, StoredObject>;
  /** The bucket's CORS configuration; undefined = the emulator-wide policy. */
  cors: readonly CorsRule[] | undefined;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;

/** Why a bucket name is refused, or undefined when it is valid (GCS naming rules, without dots' 222 limit). */
export function bucketNameProblem(name: string): string | undefined {
  if (!BUCKET_NAME.test(name)) {
    return "Bucket names are 3-63 characters: lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit.";
  }
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return "Bucket names cannot look like an IP address.";
  if (name.startsWith("goog") || name.includes("..")) return `Invalid bucket name: "${name}".`;
  return undefined;
}

/** Why an object name is refused, or undefined when it is valid. */
export function objectNameProblem(name: string): string | undefined {
  if (name === "") return "Object name is required.";
  if (Buffer.byteLength(name) > 1024) return "Object names are at most 1024 bytes of UTF-8.";
  if (name === "." || name === "..") return `Invalid object name: "${name}".`;
  if (/[\r\n]/.test(name)) return "Object names cannot contain carriage returns or line feeds.";
  return undefined;
}

/** Why `existing` fails the conditions, or undefined when they hold. Generation 0 means "does not exist". */
export function preconditionFailure(existing: StoredObject | undefined, conditions: Preconditions): string | undefined {
  const generation = existing ? Number(existing.generation) : 0;
  const { ifGenerationMatch, ifGenerationNotMatch, ifMetagenerationMatch, ifMetagenerationNotMatch } = conditions;
  if (ifGenerationMatch !== undefined && generation !== ifGenerationMatch) {
    return `ifGenerationMatch=${ifGenerationMatch} but the live generation is ${generation}.`;
  }
  if (ifGenerationNotMatch !== undefined && (!existing || generation === ifGenerationNotMatch)) {
    return existing ? `ifGenerationNotMatch=${ifGenerationNotMatch} matches the live generation.` : "ifGenerationNotMatch requires a live object.";
  }
  if (ifMetagenerationMatch !== undefined && (!existing || Number(existing.metageneration) !== ifMetagenerationMatch)) {
    return `ifMetagenerationMatch=${ifMetagenerationMatch} but the live metageneration is ${existing?.metageneration ?? "none"}.`;
  }
  if (ifMetagenerationNotMatch !== undefined && (!existing || Number(existing.metageneration) === ifMetagenerationNotMatch)) {
    return existing
      ? `ifMetagenerationNotMatch=${ifMetagenerationNotMatch} matches the live metageneration.`
      : "ifMetagenerationNotMatch requires a live object.";
  }
  return undefined;
}

/** Percent-encodes an object name as one path segment (slashes included), as GCS links do. */
export function encodeObjectName(name: string): string {
  return encodeURIComponent(name);
}

/** The `storage#object` resource GCS returns for an object. */
export function objectResource(object: StoredObject, baseUrl: string): Record<string, unknown> {
  const path = `b/${object.bucket}/o/${encodeObjectName(object.name)}`;
  const resource: Record<string, unknown> = {
    kind: "storage#object",
    id: `${object.bucket}/${object.name}/${object.generation}`,
    selfLink: `${baseUrl}/storage/v1/${path}`,
    mediaLink: `${baseUrl}/download/storage/v1/${path}?generation=${object.generation}&alt=media`,
    name: object.name,
    bucket: object.bucket,
    generation: object.generation,
    metageneration: object.metageneration,
    contentType: object.contentType,
    storageClass: object.meta.storageClass ?? "STANDARD",
    size: String(object.size),
    ...(object.md5Hash === undefined ? {} : { md5Hash: object.md5Hash }),
    crc32c: object.crc32c,
    etag: etagOf(object),
    timeCreated: object.timeCreated,
    updated: object.timeCreated,
    timeStorageClassUpdated: object.timeCreated,
  };
  const { metadata, cacheControl, contentDisposition, contentEncoding, contentLanguage, customTime, kmsKeyName } = object.meta;
  Object.assign(
    resource,
    definedOnly({ metadata, cacheControl, contentDisposition, contentEncoding, contentLanguage, customTime, kmsKeyName }),
  );
  if (object.customerKey) {
    resource.customerEncryption = { encryptionAlgorithm: object.customerKey.algorithm, keySha256: object.customerKey.keySha256 };
  }
  return resource;
}

/** The `storage#bucket` resource. */
export function bucketResource(bucket: Bucket, baseUrl: string): Record<string, unknown> {
  return {
    kind: "storage#bucket",
    id: bucket.name,
    selfLink: `${baseUrl}/storage/v1/b/${bucket.name}`,
    name: bucket.name,
    projectNumber: "0",
    metageneration: "1",
    location: "US",
    locationType: "multi-region",
    storageClass: "STANDARD",
    etag: "CAE=",
    timeCreated: bucket.timeCreated,
    updated: bucket.timeCreated,
    ...(bucket.cors === undefined ? {} : { cors: bucket.cors }),
  };
}

/** `X-Goog-Hash` for an object: CRC32C, and MD5 when it was computed. */
export function googHashOf(object: StoredObject): string {
  return object.md5Hash === undefined ? `crc32c=${object.crc32c}` : `crc32c=${object.crc32c},md5=${object.md5Hash}`;
}

/** The ETag GCS derives from generation and metageneration (any stable value does for clients). */
export function etagOf(object: StoredObject): string {
  return Buffer.from(`${object.generation}/${object.metageneration}`).toString("base64");
}

function definedOnly(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}
