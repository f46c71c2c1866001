/**
 * @resumable-gcs/iter: upload anything `for await` reads into Google Cloud Storage, in any runtime.
 */

/** The npm name of this package, for user agents and diagnostics. */
export const packageName = "@resumable-gcs/iter";

export { upload, type IterUploadOptions } from "./upload.js";
export { skipPersisted, type SkipPersistedOptions } from "./skip-persisted.js";
export type { ByteSource, ReadableStreamLike } from "./source.js";
export { MemoryCheckpointStore, UploadError, ValidationError } from "@resumable-gcs/core";
export type {
  Checkpoint,
  UploadCheckpoint,
  CheckpointStore,
  ObjectResource,
  UploadErrorCode,
  UploadEventMap,
  UploadProgress,
  UploadRetry,
  UploadRuntime,
} from "@resumable-gcs/core";
