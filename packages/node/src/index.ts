/**
 * @resumable-gcs/node: stream data of unknown length into Google Cloud Storage from Node.js.
 * Every public export is named here.
 */

/** The npm name of this package, for user agents and diagnostics. */
export const packageName = "@resumable-gcs/node";

export {
  STORAGE_SCOPE,
  UploadStream,
  createUploadStream,
  type NodeUploadOptions,
  type UploadProgress,
  type UploadRetry,
} from "./upload-stream.js";
export { uploadFrom } from "./upload-from.js";
export { CheckpointFileError, FileCheckpointStore, MemoryCheckpointStore, type CheckpointStore } from "./checkpoint-store.js";
export { createGaxiosTransport, type GaxiosTransportOptions } from "./gaxios-transport.js";
export { createHttpTransport, type HttpTransportOptions } from "./http-transport.js";
export { nodeChecksums } from "./checksums.js";
export { nodeClock } from "./node-clock.js";
export { DEFAULT_ENDPOINT, EndpointError, resolveEndpoint, type EndpointOptions, type ResolvedEndpoint } from "./endpoint.js";
export { USER_AGENT } from "./user-agent.js";
// Core's vocabulary, re-exported so a Node user needs one import for the common cases.
export { TransportError, UploadError, redact, type AuthHeaderSource, type Checkpoint, type ObjectResource, type UploadErrorCode } from "@resumable-gcs/core";
