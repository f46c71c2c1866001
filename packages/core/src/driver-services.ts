/**
 * What every driver of this package (the resumable `UploadDriver`, the `MultipartDriver`, the
 * `SingleRequestDriver`) is given besides its machine, and the one place that checks it, so the
 * three refuse the same bad input with the same `ValidationError`.
 */
import type { Clock } from "./clock.js";
import { ValidationError } from "./errors.js";
import { TRANSPORT_SPECIFICATION_VERSION, type Transport } from "./transport.js";

/** The services a driver runs on, as its options carry them (not yet checked). */
export interface DriverServices {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly onEvent?: unknown;
  readonly credentialsFor?: unknown;
  readonly maxResponseBytes?: number | undefined;
}

/**
 * Checks a driver's services: a Transport of this specification version that says whether it
 * reports upload progress, a Clock, and functions and a positive limit where given.
 *
 * @throws ValidationError naming the first option that is missing or of the wrong shape.
 */
export function checkDriverServices(options: DriverServices): void {
  if (typeof options.transport?.send !== "function") throw new ValidationError("transport", "expected a Transport with a send() method");
  const version: unknown = options.transport.specificationVersion;
  if (version !== TRANSPORT_SPECIFICATION_VERSION) {
    throw new ValidationError("transport", `expected a Transport of specificationVersion ${TRANSPORT_SPECIFICATION_VERSION}, came ${JSON.stringify(version) ?? "none"}`);
  }
  if (typeof options.transport.capabilities?.uploadProgress !== "boolean") throw new ValidationError("transport", "expected capabilities: { uploadProgress: boolean } on the Transport");
  if (options.credentialsFor !== undefined && typeof options.credentialsFor !== "function") throw new ValidationError("credentialsFor", "expected a function");
  if (options.maxResponseBytes !== undefined && !(Number.isSafeInteger(options.maxResponseBytes) && options.maxResponseBytes > 0)) {
    throw new ValidationError("maxResponseBytes", `expected a positive integer, came ${String(options.maxResponseBytes)}`);
  }
  if (typeof options.clock?.now !== "function" || typeof options.clock.setTimer !== "function") throw new ValidationError("clock", "expected a Clock with now() and setTimer()");
  if (options.onEvent !== undefined && typeof options.onEvent !== "function") throw new ValidationError("onEvent", "expected a function");
}
