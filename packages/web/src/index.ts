/**
 * @resumable-gcs/web: resumable uploads to Google Cloud Storage on the web platform's own APIs
 * (Web Streams, fetch, XMLHttpRequest), for browsers, Deno, Bun, Cloudflare Workers and Node.
 * Every public export is named here.
 */

/** The npm name of this package, for user agents and diagnostics. */
export const packageName = "@resumable-gcs/web";

export { createUploadStream, type UploadStream, type UploadStreamOptions } from "./upload-stream.js";
export { loadWebRuntime, webRuntime, type WebRuntimeOptions } from "./web-runtime.js";
export { createFetchTransport, type FetchTransportOptions } from "./fetch-transport.js";
export { createXhrTransport, type XhrTransportOptions } from "./xhr-transport.js";
export { CorsError, CORS_ERROR_CODE, isCorsError } from "./cors.js";
export { loadChecksums, type ChecksumImplementation, type LoadChecksumsOptions, type WebChecksums } from "./checksums.js";
export { crc32cCombine } from "./crc32c-combine.js";
export {
  IndexedDbCheckpointStore,
  LocalStorageCheckpointStore,
  type IndexedDbCheckpointStoreOptions,
  type IndexedDbFactoryLike,
  type LocalStorageCheckpointStoreOptions,
  type StorageLike,
} from "./checkpoint-stores.js";
