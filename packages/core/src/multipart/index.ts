/**
 * The XML multipart upload engine (several parts in flight), re-exported by `@resumable-gcs/core`.
 * See `multipart-machine.ts` for its rules and `part-schedule.ts` for how parts are sized.
 */
export {
  MultipartMachine,
  type MultipartAction,
  type MultipartCancelledAction,
  type MultipartDoneAction,
  type MultipartEvent,
  type MultipartFailedAction,
  type MultipartInFlightAction,
  type MultipartNeedDataAction,
  type MultipartPhase,
  type MultipartPurpose,
  type MultipartSendAction,
  type MultipartTransportFailure,
  type MultipartWaitAction,
} from "./multipart-machine.js";
export { MultipartDriver, type MultipartDriverOptions } from "./multipart-driver.js";
export { MAX_PARALLELISM, xmlAclNames, type MultipartUploadOptions } from "./multipart-options.js";
export { MULTIPART_CHECKPOINT_VERSION, parseMultipartCheckpoint, type CheckpointPart, type MultipartCheckpoint } from "./multipart-checkpoint.js";
export {
  DEFAULT_PARALLELISM,
  DEFAULT_PART_SIZE,
  MAX_OBJECT_SIZE,
  MAX_PARTS,
  MAX_PART_SIZE,
  MIN_PART_SIZE,
  PARTS_PER_BAND,
  fixedPartSizeFor,
  partSchedule,
  type PartSchedule,
} from "./part-schedule.js";
export { combineCrc32c } from "./crc32c-combine.js";
export { SingleRequestDriver, type SingleRequestDriverOptions } from "./single-request-driver.js";
export {
  MAX_SINGLE_REQUEST_SIZE,
  SingleRequestUpload,
  type SingleRequestAction,
  type SingleRequestEvent,
  type SingleRequestFailure,
  type SingleRequestSendAction,
} from "./single-request.js";
export { assertMultipartApplicable, singleRequestApplies, wantsMultipart, type EngineChoiceOptions } from "./applicability.js";
