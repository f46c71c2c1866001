/**
 * A test runtime for the upload layer: the in-memory GCS model behind a recording transport, a fake
 * clock, native checksums, node:crypto SHA-256. Nothing touches a socket.
 */
import { createHash } from "node:crypto";
import { nodeChecksums } from "../harness.test-utils.js";
import { FakeClock } from "../test-support/fake-clock.js";
import { GcsModel } from "../test-support/gcs-model.js";
import { seededRandom } from "../test-support/random.js";
import type { Transport, TransportRequest, TransportResponse, TransportSendOptions } from "../transport.js";
import type { TransportContext, UploadRuntime } from "./runtime.js";

/** One request as the transport saw it. */
export interface Sent {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly credentials: boolean;
  readonly refreshCredentials: boolean;
}

/** Wraps a transport and records every request with its credentials flag. */
export class RecordingTransport implements Transport {
  readonly specificationVersion = 2;
  readonly capabilities: { readonly uploadProgress: boolean };
  readonly sent: Sent[] = [];
  closed = 0;
  /** Rewrites a response before it reaches the engine (e.g. a foreign `Location`). */
  rewrite: ((request: TransportRequest, response: TransportResponse) => TransportResponse) | undefined;
  readonly #inner: Transport;

  constructor(inner: Transport) {
    this.#inner = inner;
    this.capabilities = inner.capabilities;
  }

  async send(request: TransportRequest, options: TransportSendOptions): Promise<TransportResponse> {
    this.sent.push({ method: request.method, url: request.url, headers: request.headers, credentials: options.credentials, refreshCredentials: options.refreshCredentials === true });
    const response = await this.#inner.send(request, options);
    return this.rewrite === undefined ? response : this.rewrite(request, response);
  }

  close(): void {
    this.closed += 1;
  }
}

/** A runtime over the model; `contexts` records what `createTransport` was told. */
export function testRuntime(overrides: Partial<UploadRuntime> = {}, model = new GcsModel({ md5: nodeChecksums.md5! })) {
  const clock = new FakeClock();
  const transport = new RecordingTransport(model);
  const contexts: TransportContext[] = [];
  const hashed: Uint8Array[] = [];
  const runtime: UploadRuntime = {
    name: "test",
    createTransport(context) {
      contexts.push(context);
      return transport;
    },
    clock,
    wallClock: () => Date.UTC(2030, 0, 1),
    checksums: { crc32c: nodeChecksums.crc32c!, md5: nodeChecksums.md5! },
    sha256: (bytes) => {
      hashed.push(bytes);
      return Promise.resolve(new Uint8Array(createHash("sha256").update(bytes).digest()));
    },
    random: seededRandom(7),
    env: () => undefined,
    ...overrides,
  };
  return { runtime, clock, model, transport, contexts, hashed };
}
