/**
 * The default runtime: the web platform's globals (fetch, performance.now, timers, crypto.subtle)
 * with the web package's fetch transport and checksums. Used when the caller passes no `runtime`.
 */
import { bearerTokenSource, ValidationError, type AuthHeaderSource, type Transport, type UploadRuntime } from "@resumable-gcs/core";
import { createFetchTransport, loadChecksums } from "@resumable-gcs/web";

function authFrom(value: unknown): AuthHeaderSource | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "function") return bearerTokenSource(value as () => string | Promise<string>);
  if (typeof value === "object" && value !== null && typeof (value as { getRequestHeaders?: unknown }).getRequestHeaders === "function") return value as AuthHeaderSource;
  throw new ValidationError("auth", `expected a function returning an access token, or an object with getRequestHeaders(), came ${typeof value}`);
}

function isTransport(value: unknown): value is Transport {
  return typeof value === "object" && value !== null && typeof (value as { send?: unknown }).send === "function";
}

function env(name: string): string | undefined {
  const global = globalThis as { process?: { env?: Record<string, string | undefined> }; Deno?: { env: { get(key: string): string | undefined } } };
  try {
    return global.Deno?.env.get(name) ?? global.process?.env?.[name];
  } catch {
    return undefined; // Deno without --allow-env: no environment
  }
}

/** Loads the checksums, then returns a runtime on the global `fetch`. */
export async function loadFetchRuntime(): Promise<UploadRuntime> {
  const checksums = await loadChecksums();
  return {
    name: "iter",
    createTransport({ options }) {
      const auth = authFrom(options["auth"]);
      const transport = options["transport"];
      if (transport === undefined || transport === "fetch") return createFetchTransport({ auth });
      if (!isTransport(transport)) throw new ValidationError("transport", `expected "fetch" or a Transport, came ${typeof transport}`);
      if (auth !== undefined) throw new ValidationError("auth", "give auth to the transport you pass, not to the upload");
      return transport;
    },
    clock: {
      now: () => performance.now(),
      setTimer: (callback, delayMs) => {
        const timer = setTimeout(callback, delayMs);
        return () => clearTimeout(timer);
      },
    },
    wallClock: () => Date.now(),
    checksums: { crc32c: checksums.crc32c, md5: checksums.md5 },
    sha256: async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>)),
    random: Math.random,
    env,
  };
}
