/**
 * @resumable-gcs/emulator: a Google Cloud Storage resumable-upload server with fault injection.
 * Every export is named here.
 */
export {
  startEmulator,
  DEFAULT_SESSION_TTL_MS,
  type Emulator,
  type EmulatorObject,
  type EmulatorOptions,
  type EmulatorUploadSession,
  type RegisterFaultsOptions,
  type RetryTestsApi,
} from "./emulator.js";
export { parseFault, type Fault, type RetryTest } from "./faults.js";

/**
 * The npm name of this package, for user agents and diagnostics.
 */
export const packageName = "@resumable-gcs/emulator";
