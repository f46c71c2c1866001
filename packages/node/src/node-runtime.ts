import { createHash, randomInt } from "node:crypto";
import {
  TRANSPORT_SPECIFICATION_VERSION,
  ValidationError,
  type AuthHeaderSource,
  type Transport,
  type TransportContext,
  type UploadRuntime,
} from "@resumable-gcs/core";
import { googleAuthSource, withRefresh } from "./auth.js";
import { nodeChecksums } from "./checksums.js";
import { createGaxiosTransport } from "./gaxios-transport.js";
import { nodeGzip } from "./gzip.js";
import { createHttpTransport } from "./http-transport.js";
import { nodeClock } from "./node-clock.js";
import { USER_AGENT } from "./user-agent.js";

/** Option names the Node adapter adds to the flat set. */
export const NODE_OPTIONS = ["highWaterMark", "keyFilename", "credentials"] as const;

function isTransport(value: unknown): value is Transport {
  if (typeof value !== "object" || value === null) return false;
  const t = value as Partial<Transport>;
  return typeof t.send === "function" && t.specificationVersion === TRANSPORT_SPECIFICATION_VERSION && typeof t.capabilities?.uploadProgress === "boolean";
}

/** The auth source for one upload, from `auth`, `keyFilename` and `credentials`, or none when credentials may not be sent. */
function authFor(options: Readonly<Record<string, unknown>>, credentialsAllowed: boolean): AuthHeaderSource | undefined {
  const { auth, keyFilename, credentials, universeDomain } = options;
  if (auth !== undefined && auth !== false && typeof (auth as Partial<AuthHeaderSource>).getRequestHeaders !== "function") {
    throw new ValidationError("auth", "expected false or an auth source with getRequestHeaders() (a google-auth-library GoogleAuth or client, or bearerTokenSource(...))");
  }
  if (keyFilename !== undefined && (typeof keyFilename !== "string" || keyFilename === "")) throw new ValidationError("keyFilename", "expected a path to a key file");
  if (credentials !== undefined && (typeof credentials !== "object" || credentials === null || Array.isArray(credentials))) {
    throw new ValidationError("credentials", "expected the parsed key file (an object)");
  }
  if (!credentialsAllowed || auth === false) return undefined;
  if (auth !== undefined) return withRefresh(auth as AuthHeaderSource);
  return googleAuthSource({
    keyFilename: keyFilename,
    credentials: credentials as Record<string, unknown> | undefined,
    universeDomain: universeDomain as string | undefined,
  });
}

function createTransport({ options, credentialsAllowed }: TransportContext): Transport {
  const choice = options.transport;
  if (choice !== undefined && choice !== "gaxios" && choice !== "http" && !isTransport(choice)) {
    throw new ValidationError("transport", 'expected "gaxios", "http", or a Transport (specificationVersion 2)');
  }
  const auth = authFor(options, credentialsAllowed);
  if (isTransport(choice)) return choice;
  const userAgent = typeof options.userAgent === "string" ? `${options.userAgent} ${USER_AGENT}` : USER_AGENT;
  return choice === "http" ? createHttpTransport({ auth, userAgent }) : createGaxiosTransport({ auth, userAgent });
}

/**
 * Node.js as an upload runtime: the gaxios (default) or node:http transport with
 * google-auth-library credentials (loaded only when a request needs them), native CRC32C,
 * node:crypto MD5 and SHA-256, `performance.now()` timers, `process.env`, and zlib for `gzip`.
 * Hand it to `createUpload` (core) or to the iter adapter to run on Node's authenticated transport.
 *
 * @example
 * ```ts
 * import { createUpload } from "@resumable-gcs/core";
 * const upload = createUpload({ bucket: "logs", name: "app.log" }, nodeRuntime);
 * ```
 */
export const nodeRuntime: UploadRuntime = {
  name: "node",
  createTransport,
  clock: nodeClock,
  wallClock: () => Date.now(),
  checksums: nodeChecksums,
  sha256: (bytes) => Promise.resolve(new Uint8Array(createHash("sha256").update(bytes).digest())),
  random: () => randomInt(0, 2 ** 32) / 2 ** 32,
  env: (name) => process.env[name],
  gzip: nodeGzip,
  extraOptions: NODE_OPTIONS,
};
