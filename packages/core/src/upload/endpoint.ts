/**
 * Where JSON API requests go. Resolved once per upload, in this order: `apiEndpoint`, then
 * `STORAGE_EMULATOR_HOST` (read through the runtime's `env`; a bare `host:port` means http), then
 * `https://storage.{universeDomain}`, then `https://storage.googleapis.com`.
 */
import { ValidationError } from "../errors.js";
import { DEFAULT_ENDPOINT } from "../options.js";
import { isLoopbackHost, parseHttpUrl } from "./url.js";

/** The endpoint an upload talks to. */
export interface ResolvedEndpoint {
  /** Origin plus optional path prefix, without a trailing slash, e.g. `https://storage.googleapis.com`. */
  readonly url: string;
  /** `scheme://host[:port]`: the only origin credentials may be sent to. */
  readonly origin: string;
  /** True for plain http (an emulator, a test server). */
  readonly insecure: boolean;
  /** Which option chose it. */
  readonly source: "apiEndpoint" | "STORAGE_EMULATOR_HOST" | "universeDomain" | "default";
}

/** What {@link resolveEndpoint} reads. */
export interface EndpointInputs {
  /** An explicit endpoint; wins over the rest. */
  readonly apiEndpoint?: string | undefined;
  /** A universe domain: `https://storage.{universeDomain}`. */
  readonly universeDomain?: string | undefined;
  /** Allow plain http to a host that is not loopback. */
  readonly allowInsecureHttp?: boolean | undefined;
  /** Environment lookup (`STORAGE_EMULATOR_HOST`); none when absent. */
  readonly env?: ((name: string) => string | undefined) | undefined;
}

/**
 * Picks and checks the endpoint. Plain http is refused for a host that is not loopback unless
 * `allowInsecureHttp`; user info, a query or a fragment are refused anywhere.
 *
 * @throws ValidationError naming the option the endpoint came from.
 */
export function resolveEndpoint(inputs: EndpointInputs): ResolvedEndpoint {
  const emulatorHost = inputs.env?.("STORAGE_EMULATOR_HOST")?.trim();
  let raw: string;
  let source: ResolvedEndpoint["source"];
  if (inputs.apiEndpoint !== undefined && inputs.apiEndpoint !== "") {
    raw = inputs.apiEndpoint;
    source = "apiEndpoint";
  } else if (emulatorHost !== undefined && emulatorHost !== "") {
    raw = /^[a-z][a-z0-9+.-]*:\/\//i.test(emulatorHost) ? emulatorHost : `http://${emulatorHost}`;
    source = "STORAGE_EMULATOR_HOST";
  } else if (inputs.universeDomain !== undefined && inputs.universeDomain !== "") {
    raw = `https://storage.${inputs.universeDomain}`;
    source = "universeDomain";
  } else {
    raw = DEFAULT_ENDPOINT;
    source = "default";
  }
  const field = source === "default" ? "apiEndpoint" : source;
  const parsed = parseHttpUrl(raw);
  if (parsed === undefined) {
    throw new ValidationError(field, `expected a plain http(s) origin such as https://storage.googleapis.com (no user info, odd characters or spaces), came ${JSON.stringify(raw)}`);
  }
  if (/[?#]/.test(raw)) throw new ValidationError(field, "an endpoint must not carry a query or a fragment");
  const insecure = parsed.scheme === "http";
  if (insecure && !isLoopbackHost(parsed.hostname) && inputs.allowInsecureHttp !== true) {
    throw new ValidationError(
      field,
      `refusing plain http to non-loopback host ${parsed.hostname}: use https, or set allowInsecureHttp for a trusted network`,
    );
  }
  const path = parsed.path.replace(/\/+$/, "");
  return { url: `${parsed.origin}${path}`, origin: parsed.origin, insecure, source };
}
