import {
  TransportError,
  mergeHeaders,
  redact,
  redactUrl,
  type AuthHeaderSource,
  type TransportRequest,
  type TransportSendOptions,
} from "@resumable-gcs/core";
import { errorCode, errorMessage } from "./errors.js";

/**
 * The headers one request goes out with, shared by both Node transports: core's headers, the user
 * agent, and, only when the send options say `credentials: true`, the auth source's headers
 * (refreshed first when `refreshCredentials` asks). An auth source that fails rejects with a
 * {@link TransportError} of kind `auth` carrying its reason, redacted: the upload then fails at once
 * instead of retrying what is not a network problem.
 */
export async function requestHeaders(
  request: TransportRequest,
  options: Pick<TransportSendOptions, "credentials" | "refreshCredentials">,
  auth: AuthHeaderSource | undefined,
  userAgent: string | undefined,
): Promise<Record<string, string>> {
  const base = userAgent === undefined ? request.headers : mergeHeaders(request.headers, { "user-agent": userAgent });
  if (!options.credentials || auth === undefined) return { ...base };
  try {
    if (options.refreshCredentials === true) await auth.refresh?.();
    return mergeHeaders(base, await auth.getRequestHeaders(request.url));
  } catch (error) {
    const code = errorCode(error);
    // Not kept as the cause: an auth library's error may hold its request (and a refresh token).
    throw new TransportError("auth", `${request.method} ${redactUrl(request.url)}: could not get credentials: ${redact(errorMessage(error))}`, {
      ...(code === undefined ? {} : { code }),
    });
  }
}
