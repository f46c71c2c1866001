/**
 * @resumable-gcs/emulator: a Google Cloud Storage resumable-upload server with fault injection.
 * Every export is named here.
 */
export {
  startEmulator,
  DEFAULT_SESSION_TTL_MS,
  type Emulator,
  type BucketOptions,
  type EmulatorMultipartUpload,
  type EmulatorObject,
  type EmulatorOptions,
  type EmulatorUploadSession,
  type RegisterFaultsOptions,
  type RetryTestsApi,
} from "./emulator.js";
export {
  FAULT_VOCABULARY,
  REQUEST_KINDS,
  parseFault,
  parseInstruction,
  type Fault,
  type ParsedInstruction,
  type RequestKind,
  type RetryTest,
} from "./faults.js";
export { type CorsRule } from "./cors.js";
export { faultHeaders, useEmulator, type FaultHeaders, type FaultInstructions, type SuiteHooks } from "./fixtures.js";

/**
 * The npm name of this package, for user agents and diagnostics.
 */
export const packageName = "@resumable-gcs/emulator";
