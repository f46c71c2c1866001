/**
 * The npm name of this package, for user agents and diagnostics.
 */
export const packageName = "@resumable-gcs/cli";
