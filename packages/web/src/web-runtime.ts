/**
 * The web adapter's runtime for the upload layer, built from the web platform's globals only:
 * `fetch`/`XMLHttpRequest` transports, `performance.now()` and timers, `crypto.subtle` for the
 * CSEK key hash, `CompressionStream` for gzip, and the lazily loaded checksums.
 */
import {
  type AuthHeaderSource,
  bearerTokenSource,
  type Checksum,
  type Compressor,
  type Crc32cChecksum,
  type Transport,
  type UploadRuntime,
  ValidationError,
} from "@resumable-gcs/core";
import { type LoadChecksumsOptions, type WebChecksums, loadChecksums } from "./checksums.js";
import { createFetchTransport } from "./fetch-transport.js";
import { inBrowserContext } from "./http-common.js";
import { createXhrTransport } from "./xhr-transport.js";

/** Option names the web adapter adds to the layer's flat option set. */
export const WEB_OPTION_NAMES = ["highWaterMark", "requestTimeoutMs"] as const;

/** Options for {@link webRuntime}. */
export interface WebRuntimeOptions {
  /** Loaded checksums (see {@link loadChecksums}). */
  readonly checksums: WebChecksums;
  /** The fetch the default fetch transport uses; the global one by default. */
  readonly fetch?: typeof fetch | undefined;
  /** Reads an environment variable (`STORAGE_EMULATOR_HOST`); by default `process.env`/`Deno.env` where they exist. */
  readonly env?: ((name: string) => string | undefined) | undefined;
}

/** Reads an environment variable wherever the runtime has them (Node, Bun, Deno with --allow-env); undefined in pages and Workers. */
function defaultEnv(name: string): string | undefined {
  const global = globalThis as { process?: { env?: Record<string, string | undefined> }; Deno?: { env: { get(key: string): string | undefined } } };
  try {
    return global.Deno?.env.get(name) ?? global.process?.env?.[name];
  } catch {
    // Deno without --allow-env throws: no environment, as in a page.
    return undefined;
  }
}

function isTransport(value: unknown): value is Transport {
  return typeof value === "object" && value !== null && typeof (value as { send?: unknown }).send === "function";
}

/** The access token source from the `auth` option: an AuthHeaderSource, or a function returning a token. */
function authFrom(value: unknown): AuthHeaderSource | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "function") return bearerTokenSource(value as () => string | Promise<string>);
  if (typeof value === "object" && value !== null && typeof (value as { getRequestHeaders?: unknown }).getRequestHeaders === "function") return value as AuthHeaderSource;
  throw new ValidationError("auth", `expected a function returning an access token, or an object with getRequestHeaders(); got ${typeof value}`);
}

/**
 * The transport an upload uses: the `transport` option (a Transport, or `"fetch"`/`"xhr"`), else
 * XMLHttpRequest in a page (it reports upload progress) and fetch everywhere else.
 */
function transportFrom(options: Readonly<Record<string, unknown>>, fetchImpl: typeof fetch | undefined): Transport {
  const auth = authFrom(options["auth"]);
  const timeout = options["requestTimeoutMs"];
  if (timeout !== undefined && !(typeof timeout === "number" && Number.isFinite(timeout) && timeout > 0)) throw new ValidationError("requestTimeoutMs", `expected a positive number of milliseconds, got ${typeof timeout === "number" ? timeout : typeof timeout}`);
  const timeoutMs = timeout;
  const choice = options["transport"];
  if (isTransport(choice)) {
    if (auth !== undefined) throw new ValidationError("auth", "give auth to the transport you pass (transport option), not to the upload");
    if ((choice as { specificationVersion?: unknown }).specificationVersion !== 2) throw new ValidationError("transport", "expected a Transport of specification version 2");
    return choice;
  }
  const hasXhr = typeof (globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest === "function";
  if (choice === "xhr" || (choice === undefined && hasXhr && inBrowserContext())) {
    if (!hasXhr) throw new ValidationError("transport", `"xhr" needs XMLHttpRequest, which this runtime lacks: use "fetch"`);
    return createXhrTransport({ auth, timeoutMs });
  }
  if (choice === "fetch" || choice === undefined) return createFetchTransport({ auth, timeoutMs, fetch: fetchImpl });
  throw new ValidationError("transport", `expected "fetch", "xhr" or a Transport, got ${typeof choice === "string" ? `"${choice}"` : typeof choice}`);
}

/** Streaming gzip on CompressionStream: output is collected as the stream produces it. */
function gzipCompressor(): Compressor {
  const Compression = (globalThis as { CompressionStream?: new (format: "gzip") => TransformStream<Uint8Array, Uint8Array> }).CompressionStream;
  if (Compression === undefined) throw new ValidationError("gzip", "this runtime has no CompressionStream");
  const stream = new Compression("gzip");
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  let ready: Uint8Array[] = [];
  // Reads run ahead of the writes, so output reaches `ready` as soon as the compressor emits it.
  const drained = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      ready.push(value);
    }
  })();
  const take = (): Uint8Array[] => {
    const out = ready;
    ready = [];
    return out;
  };
  return {
    async push(bytes) {
      await writer.write(bytes);
      return take();
    },
    async finish() {
      await writer.close();
      await drained;
      return take();
    },
  };
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  const subtle = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle;
  if (subtle === undefined) throw new ValidationError("encryptionKey", "this runtime has no crypto.subtle (a page must be served over https or from localhost)");
  return new Uint8Array(await subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

/**
 * The upload layer's runtime on the web platform, for `createUpload`-level use (the upload
 * stream builds its own). Checksums must be loaded first: see {@link loadWebRuntime}.
 *
 * @example
 * ```ts
 * const runtime = webRuntime({ checksums: await loadChecksums() });
 * ```
 */
export function webRuntime(options: WebRuntimeOptions): UploadRuntime {
  return runtimeWith(options.checksums, options);
}

/** Loads the checksums, then returns {@link webRuntime}'s runtime. */
export async function loadWebRuntime(options: Omit<WebRuntimeOptions, "checksums"> & LoadChecksumsOptions = {}): Promise<UploadRuntime> {
  return webRuntime({ ...options, checksums: await loadChecksums(options) });
}

/** The runtime over checksum factories (loaded, or deferred until the stream's start). */
export function runtimeWith(checksums: Pick<WebChecksums, "crc32c" | "md5">, options: Omit<WebRuntimeOptions, "checksums"> = {}): UploadRuntime {
  return {
    name: "web",
    createTransport: (context) => transportFrom(context.options, options.fetch),
    clock: {
      now: () => performance.now(),
      setTimer: (callback, delayMs) => {
        const timer = setTimeout(callback, delayMs);
        return () => clearTimeout(timer);
      },
    },
    wallClock: () => Date.now(),
    checksums: { crc32c: checksums.crc32c, md5: checksums.md5 },
    sha256,
    random: Math.random,
    env: options.env ?? defaultEnv,
    gzip: gzipCompressor,
    extraOptions: WEB_OPTION_NAMES,
  };
}

/**
 * Checksum factories usable before the implementations have loaded: core creates its checksums when
 * an upload is created, but feeds them bytes only once writes flow, which the upload stream holds
 * back until `loading` has resolved. A CRC32C's whole state is a number, so only `update` needs the
 * implementation; an MD5 creates its real instance on first use.
 */
export function deferredChecksums(loading: Promise<WebChecksums>): Pick<WebChecksums, "crc32c" | "md5"> {
  let loaded: WebChecksums | undefined;
  void loading.then((value) => (loaded = value), () => undefined);
  const need = (): WebChecksums => {
    if (loaded === undefined) throw new Error("@resumable-gcs/web: checksums used before they loaded (write only after the stream has started)");
    return loaded;
  };

  class DeferredCrc32c implements Crc32cChecksum {
    #value: number;
    constructor(initial: number) {
      this.#value = initial >>> 0;
    }
    update(bytes: Uint8Array): void {
      if (bytes.byteLength === 0) return;
      const real = need().crc32c(this.#value);
      real.update(bytes);
      this.#value = real.value();
    }
    value(): number {
      return this.#value;
    }
    digest(): Uint8Array {
      const out = new Uint8Array(4);
      new DataView(out.buffer).setUint32(0, this.#value, false);
      return out;
    }
    clone(): DeferredCrc32c {
      return new DeferredCrc32c(this.#value);
    }
  }

  class DeferredMd5 implements Checksum {
    #real: Checksum | undefined;
    constructor(real?: Checksum) {
      this.#real = real;
    }
    #get(): Checksum {
      this.#real ??= need().md5();
      return this.#real;
    }
    update(bytes: Uint8Array): void {
      this.#get().update(bytes);
    }
    digest(): Uint8Array {
      return this.#get().digest();
    }
    clone(): DeferredMd5 {
      return new DeferredMd5(this.#real?.clone());
    }
  }

  return { crc32c: (initial = 0) => new DeferredCrc32c(initial), md5: () => new DeferredMd5() };
}
