/**
 * What an adapter hands the upload layer: everything that differs between runtimes. The layer
 * reads no globals; an adapter is this object plus its stream glue.
 */
import type { Crc32cChecksum, Checksum } from "../checksum.js";
import type { Clock } from "../clock.js";
import type { Transport } from "../transport.js";
import type { ResolvedEndpoint } from "./endpoint.js";

/** A streaming compressor (Node's zlib, `CompressionStream`): output arrives in pieces. */
export interface Compressor {
  /** Compresses `bytes`; resolves with whatever output is ready (maybe none). */
  push(bytes: Uint8Array): Promise<readonly Uint8Array[]>;
  /** Ends the stream; resolves with the rest of the output. */
  finish(): Promise<readonly Uint8Array[]>;
}

/** What `runtime.createTransport` is told. */
export interface TransportContext {
  /** The caller's options as given (the runtime reads its own: `transport`, `auth`, `keyFilename`...). */
  readonly options: Readonly<Record<string, unknown>>;
  /** The endpoint the upload talks to. */
  readonly endpoint: ResolvedEndpoint;
  /**
   * Whether any request of this upload may carry credentials. False for a signed URL or a session
   * URI target, and for plain http without `authOverHttp`: a runtime then needs no auth library at all.
   */
  readonly credentialsAllowed: boolean;
}

/** The services of one runtime (Node, browsers, Deno...). */
export interface UploadRuntime {
  /** `"node"`, `"web"`, `"iter"`: used in messages. */
  readonly name: string;
  /**
   * Builds the transport for one upload from the adapter-specific options. The layer closes it
   * (`close()`) when the upload ends, unless it is the very object the caller passed as `transport`.
   *
   * @throws ValidationError (invalid-argument) naming the field at fault.
   */
  createTransport(context: TransportContext): Transport;
  /** Monotonic time and timers. */
  readonly clock: Clock;
  /** Wall-clock time, epoch ms (the checkpoint's `createdAt`). */
  readonly wallClock: () => number;
  /** Checksum factories. */
  readonly checksums: { readonly crc32c: (initial?: number) => Crc32cChecksum; readonly md5: () => Checksum };
  /** SHA-256 of `bytes` (a customer-supplied key's hash). */
  readonly sha256: (bytes: Uint8Array) => Promise<Uint8Array>;
  /** Uniform random numbers in [0, 1) (backoff jitter). */
  readonly random: () => number;
  /** Environment lookup (`STORAGE_EMULATOR_HOST`), where the runtime has one. */
  readonly env?: (name: string) => string | undefined;
  /** A streaming gzip compressor, where the runtime has one (for `gzip: true`). */
  readonly gzip?: () => Compressor;
  /** Option names this adapter adds to the flat set (e.g. node: `highWaterMark`, `keyFilename`). Anything else unknown is refused. */
  readonly extraOptions?: readonly string[];
}
