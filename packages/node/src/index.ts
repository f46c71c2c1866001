/**
 * @resumable-gcs/node: stream data of unknown length into Google Cloud Storage from Node.js.
 * Every public export is named here: the Writable glue, Node as an upload runtime, its transports,
 * checksums, clock and checkpoint file store.
 */

/** The npm name of this package, for user agents and diagnostics. */
export const packageName = "@resumable-gcs/node";

export { UploadStream, createUploadStream, type AnyListener, type NodeUploadOptions, type WriteCallback } from "./upload-stream.js";
export { uploadFrom } from "./upload-from.js";
export { NODE_OPTIONS, nodeRuntime } from "./node-runtime.js";
export { STORAGE_SCOPE, googleAuthSource, type GoogleAuthSettings } from "./auth.js";
export { CheckpointFileError, FileCheckpointStore } from "./checkpoint-store.js";
export { createGaxiosTransport, type GaxiosTransportOptions } from "./gaxios-transport.js";
export { createHttpTransport, type HttpTransportOptions } from "./http-transport.js";
export { nodeChecksums } from "./checksums.js";
export { nodeClock } from "./node-clock.js";
export { nodeGzip } from "./gzip.js";
export { USER_AGENT } from "./user-agent.js";
// Core's vocabulary, re-exported so a Node user needs one import for the common cases.
export {
  MemoryCheckpointStore,
  isMultipartCheckpoint,
  TransportError,
  UploadError,
  ValidationError,
  redact,
  type AbortOutcome,
  type AuthHeaderSource,
  type Checkpoint,
  type CheckpointStore,
  type UploadCheckpoint,
  type ObjectResource,
  type UploadErrorCode,
  type UploadEventMap,
  type UploadProgress,
  type UploadRetry,
} from "@resumable-gcs/core";
