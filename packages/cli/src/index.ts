/**
 * @resumable-gcs/cli: the `gcs-upload` command, also callable in-process. Every export is named here.
 */

/** The npm name of this package, for user agents and diagnostics. */
export const packageName = "@resumable-gcs/cli";

export { BAD_INPUT_CODES, EXIT, cliVersion, crc32cBase64, runCli, type CliIo } from "./cli.js";
export { HELP, UsageError, parseCliArgs, parseGsUrl, parseSize, type CliArgs } from "./args.js";
export { CliError, finalizeSession, sessionStatus, type FinalizeOptions, type FinalizeResult, type SessionStatus } from "./finalize.js";
export { consumePrefix, crcOfFilePrefix, type PrefixResult } from "./prefix.js";
export { createProgressReporter, formatBytes, type ProgressOptions, type ProgressReporter } from "./progress.js";
