/** Where requests go and whether credentials may travel there. */
export interface ResolvedEndpoint {
  /** Origin (and optional path prefix) without a trailing slash, e.g. `https://storage.googleapis.com`. */
  readonly url: string;
  /** True for plain http: an emulator or a test server. */
  readonly insecure: boolean;
  /** Whether auth headers may be sent there. */
  readonly sendAuth: boolean;
}

/** Options for {@link resolveEndpoint}. */
export interface EndpointOptions {
  /** An explicit API endpoint (`https://storage.example.com`, `http://127.0.0.1:9023`). Wins over the rest. */
  apiEndpoint?: string | undefined;
  /** A universe domain: requests go to `https://storage.{universeDomain}`. */
  universeDomain?: string | undefined;
  /** Environment to read `STORAGE_EMULATOR_HOST` from; `process.env` by default. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Allow plain http to a host that is not loopback (credentials still stay home unless `authOverHttp`). */
  allowInsecureHttp?: boolean | undefined;
  /** Send credentials over plain http too. Off by default: a bearer token must never cross in clear. */
  authOverHttp?: boolean | undefined;
}

/** The public GCS endpoint. */
export const DEFAULT_ENDPOINT = "https://storage.googleapis.com";

/** Thrown when an endpoint cannot be used as given. */
export class EndpointError extends Error {
  /** Always `invalid-argument`, matching core's error codes. */
  readonly code = "invalid-argument" as const;
  constructor(message: string) {
    super(message);
    this.name = "EndpointError";
  }
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host.endsWith(".localhost") || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Picks the endpoint the way GCS client users expect: an explicit `apiEndpoint`, else
 * `STORAGE_EMULATOR_HOST` (a bare `host:port` means http), else the universe domain, else
 * `https://storage.googleapis.com`. Plain http is refused for non-loopback hosts unless allowed, and
 * never carries credentials unless `authOverHttp` says so.
 */
export function resolveEndpoint(options: EndpointOptions = {}): ResolvedEndpoint {
  const env = options.env ?? process.env;
  const emulatorHost = env["STORAGE_EMULATOR_HOST"]?.trim();
  let raw: string;
  if (options.apiEndpoint !== undefined && options.apiEndpoint !== "") raw = options.apiEndpoint;
  else if (emulatorHost !== undefined && emulatorHost !== "") raw = /^[a-z]+:\/\//i.test(emulatorHost) ? emulatorHost : `http://${emulatorHost}`;
  else if (options.universeDomain !== undefined && options.universeDomain !== "") raw = `https://storage.${options.universeDomain}`;
  else raw = DEFAULT_ENDPOINT;

  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new EndpointError(`endpoint ${JSON.stringify(raw)} is not a URL`);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new EndpointError(`endpoint must be http(s), got ${parsed.protocol}`);
  }
  if (parsed.search !== "" || parsed.hash !== "" || parsed.username !== "" || parsed.password !== "") {
    throw new EndpointError("endpoint must not carry credentials, a query or a fragment");
  }
  const insecure = parsed.protocol === "http:";
  if (insecure && !isLoopback(parsed.hostname) && options.allowInsecureHttp !== true) {
    throw new EndpointError(
      `refusing plain http to non-loopback host ${parsed.hostname}; use https, or set allowInsecureHttp for a trusted network`,
    );
  }
  const path = parsed.pathname.replace(/\/+$/, "");
  return {
    url: `${parsed.origin}${path}`,
    insecure,
    sendAuth: !insecure || options.authOverHttp === true,
  };
}
