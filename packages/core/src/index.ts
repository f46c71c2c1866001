/**
 * @resumable-gcs/core: the sans-IO resumable-upload engine for Google Cloud Storage.
 *
 * Every public export is named here, and only public API: the machine and its actions/events, the
 * driver, options, checkpoints, errors, the interfaces adapters implement (transport, clock,
 * checksums), redaction, and the upload layer every adapter wraps (`createUpload`). Internals (the
 * byte queue, the small abort controller, base64 helpers) are not exported. Test helpers live at
 * `@resumable-gcs/core/test`.
 */

/** The npm name of this package, for user agents and diagnostics. */
export const packageName = "@resumable-gcs/core";

export {
  UploadMachine,
  type CancelledAction,
  type DoneAction,
  type FailedAction,
  type InFlightAction,
  type MachineState,
  type NeedDataAction,
  type RequestPurpose,
  type SendAction,
  type TransportFailure,
  type UploadAction,
  type UploadEvent,
  type WaitAction,
} from "./machine.js";
export { MIN_UPLOAD_THROUGHPUT, UploadDriver, type UploadDriverOptions } from "./driver.js";
export {
  CHUNK_GRANULARITY,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_ENDPOINT,
  type ChecksumMode,
  type EncryptionKey,
  type GenerationNumber,
  type JsonApiTarget,
  type ObjectMetadata,
  type PredefinedAcl,
  type RetryOptions,
  type SessionTarget,
  type SignedUrlTarget,
  // The engine's own options (the upload layer's flat `UploadOptions` is below).
  type UploadOptions as MachineOptions,
  type UploadTarget,
} from "./options.js";
export { bucketNameProblem, objectNameProblem } from "./resolve-options.js";
export { CHECKPOINT_VERSION, parseCheckpoint, type Checkpoint } from "./checkpoint.js";
export {
  UploadError,
  UsageError,
  ValidationError,
  redactSessionUri,
  redactUploadId,
  uploadErrorCodes,
  type UploadErrorCode,
  type UploadErrorOptions,
} from "./errors.js";
export type { ObjectResource } from "./protocol.js";
export {
  DEFAULT_MAX_RESPONSE_BYTES,
  TRANSPORT_SPECIFICATION_VERSION,
  TransportError,
  bearerTokenSource,
  mergeHeaders,
  type AbortSignalLike,
  type AuthHeaderSource,
  type HeadersLike,
  type HttpMethod,
  type Transport,
  type TransportCapabilities,
  type TransportErrorKind,
  type TransportErrorOptions,
  type TransportRequest,
  type TransportResponse,
  type TransportSendOptions,
} from "./transport.js";
export { REDACTED, redact, redactUrl } from "./redact.js";
export type { Clock, RandomSource } from "./clock.js";
export type { Checksum, ChecksumProvider, Crc32cChecksum } from "./checksum.js";
export {
  DEFAULT_PARALLELISM,
  DEFAULT_PART_SIZE,
  MAX_OBJECT_SIZE,
  MAX_PARALLELISM,
  MAX_PARTS,
  MAX_PART_SIZE,
  MIN_PART_SIZE,
  MAX_SINGLE_REQUEST_SIZE,
  MULTIPART_CHECKPOINT_VERSION,
  MultipartDriver,
  MultipartMachine,
  PARTS_PER_BAND,
  SingleRequestDriver,
  SingleRequestUpload,
  assertMultipartApplicable,
  combineCrc32c,
  fixedPartSizeFor,
  parseMultipartCheckpoint,
  partSchedule,
  singleRequestApplies,
  wantsMultipart,
  xmlAclNames,
  type CheckpointPart,
  type EngineChoiceOptions,
  type MultipartAction,
  type MultipartCancelledAction,
  type MultipartCheckpoint,
  type MultipartDoneAction,
  type MultipartFailedAction,
  type MultipartInFlightAction,
  type MultipartNeedDataAction,
  type MultipartWaitAction,
  type MultipartDriverOptions,
  type MultipartEvent,
  type MultipartPhase,
  type MultipartPurpose,
  type MultipartSendAction,
  type MultipartTransportFailure,
  type MultipartUploadOptions,
  type PartSchedule,
  type SingleRequestAction,
  type SingleRequestDriverOptions,
  type SingleRequestEvent,
  type SingleRequestFailure,
  type SingleRequestSendAction,
} from "./multipart/index.js";

// The upload layer: what every adapter wraps.
export { AUTH_ADVICE, createUpload, type AbortOutcome, type Upload } from "./upload/create-upload.js";
export { MAX_CHUNK_SIZE, type UploadMetadata, type UploadOptions, type UploadRetryOptions } from "./upload/options.js";
export type { Compressor, TransportContext, UploadRuntime } from "./upload/runtime.js";
export { MemoryCheckpointStore, type CheckpointStore } from "./upload/checkpoint-store.js";
export { isMultipartCheckpoint, parseUploadCheckpoint, resumePointOf, type ResumePoint, type UploadCheckpoint } from "./upload/upload-checkpoint.js";
export {
  uploadEventNames,
  type UploadEventListener,
  type UploadEventMap,
  type UploadEventName,
  type UploadProgress,
  type UploadRetry,
} from "./upload/events.js";
export { resolveEndpoint, type EndpointInputs, type ResolvedEndpoint } from "./upload/endpoint.js";
