import { DEFAULT_MAX_RESPONSE_BYTES, type AbortSignalLike, type Transport, type TransportRequest, type TransportResponse } from "@resumable-gcs/core";

/**
 * The transport conformance suite: what every Transport must do, checked against a running
 * @resumable-gcs/emulator (reached only over HTTP, through the transport under test, so this file
 * depends on no server code). Each case throws on failure; a test file turns each into one test.
 */
export interface TransportConformanceCase {
  /** What the case checks, as a test name. */
  readonly name: string;
  /** Runs the case; rejects with a descriptive error when the transport misbehaves. */
  run(): Promise<void>;
}

/** What the suite needs: the transport, the emulator's base URL, and a bucket name it may create. */
export interface TransportConformanceOptions {
  /** The transport under test. */
  readonly transport: Transport;
  /** The emulator's base URL, e.g. `http://127.0.0.1:PORT`. */
  readonly baseUrl: string;
  /** Bucket to use; created when missing. */
  readonly bucket?: string;
  /** Whether the transport promises upload progress callbacks (Node transports do; fetch cannot). */
  readonly reportsUploadProgress?: boolean;
}

const KIB = 1024;
const CHUNK = 256 * KIB;

class TestAbort implements AbortSignalLike {
  aborted = false;
  reason: unknown;
  #listeners = new Set<() => void>();
  addEventListener(_type: "abort", listener: () => void): void {
    this.#listeners.add(listener);
  }
  removeEventListener(_type: "abort", listener: () => void): void {
    this.#listeners.delete(listener);
  }
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    for (const listener of [...this.#listeners]) listener();
  }
}

function fail(message: string): never {
  throw new Error(`transport conformance: ${message}`);
}

function expectStatus(response: TransportResponse, expected: number, what: string): void {
  if (response.status !== expected) fail(`${what}: expected status ${expected}, got ${response.status} (${response.body.slice(0, 200)})`);
}

function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

/** Builds the conformance cases for one transport. */
export function transportConformanceCases(options: TransportConformanceOptions): TransportConformanceCase[] {
  const { transport, baseUrl } = options;
  const bucket = options.bucket ?? "conformance-bucket";
  let objectCounter = 0;

  function send(request: Omit<TransportRequest, "bodyLength">, signal: AbortSignalLike = new TestAbort(), onUploadProgress?: (n: number) => void): Promise<TransportResponse> {
    const bodyLength = request.body.reduce((sum, view) => sum + view.byteLength, 0);
    const headers = { ...request.headers, ...(bodyLength > 0 || request.method === "PUT" || request.method === "POST" ? { "content-length": String(bodyLength) } : {}) };
    const common = { signal, credentials: false, maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES };
    return transport.send({ ...request, headers, bodyLength }, onUploadProgress ? { ...common, onUploadProgress } : common);
  }

  async function ensureBucket(): Promise<void> {
    const response = await send({
      method: "POST",
      url: `${baseUrl}/storage/v1/b`,
      headers: { "content-type": "application/json" },
      body: [bytesOf(JSON.stringify({ name: bucket }))],
    });
    if (response.status !== 200 && response.status !== 409) fail(`creating bucket: status ${response.status}`);
  }

  async function faults(instructions: string[]): Promise<string> {
    const response = await send({
      method: "POST",
      url: `${baseUrl}/retry_test`,
      headers: { "content-type": "application/json" },
      body: [bytesOf(JSON.stringify({ instructions: { "storage.objects.insert": instructions } }))],
    });
    expectStatus(response, 200, "registering faults");
    return (JSON.parse(response.body) as { id: string }).id;
  }

  async function startSession(testId?: string): Promise<{ sessionUri: string; name: string }> {
    await ensureBucket();
    objectCounter += 1;
    const name = `conformance/${Date.now()}-${objectCounter}.bin`;
    const response = await send({
      method: "POST",
      url: `${baseUrl}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&name=${encodeURIComponent(name)}`,
      headers: { "content-type": "application/json; charset=UTF-8", ...(testId ? { "x-retry-test-id": testId } : {}) },
      body: [bytesOf(JSON.stringify({ name, metadata: { café: "naïve ✓" } }))],
    });
    expectStatus(response, 200, "session start");
    const sessionUri = response.headers["location"];
    if (sessionUri === undefined || !sessionUri.includes("upload_id=")) fail("session start: no lower-case `location` header with upload_id");
    return { sessionUri, name };
  }

  function put(sessionUri: string, range: string, body: Uint8Array[], extra: Record<string, string> = {}) {
    return send({ method: "PUT", url: sessionUri, headers: { "content-range": range, ...extra }, body });
  }

  async function download(name: string): Promise<Uint8Array> {
    // Read back through a plain fetch-free path: the transport itself, as a GET.
    const response = await send({
      method: "GET",
      url: `${baseUrl}/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}?alt=media`,
      headers: {},
      body: [],
    });
    expectStatus(response, 200, "download");
    // alt=media bytes come back as text: only compare ASCII-safe content through this path.
    return bytesOf(response.body);
  }

  return [
    {
      name: "returns a 200 with lower-case headers and the JSON body; sends a UTF-8 JSON body intact",
      async run() {
        const { sessionUri } = await startSession();
        const query = await put(sessionUri, "bytes */*", []);
        expectStatus(query, 308, "status query on a new session");
        if ("range" in query.headers) fail("a new session must answer 308 without a range header");
      },
    },
    {
      name: "hands a 308 back as a response (never follows it) with its range header",
      async run() {
        const { sessionUri } = await startSession();
        const response = await put(sessionUri, `bytes 0-${CHUNK - 1}/*`, [pattern(CHUNK, 1)]);
        expectStatus(response, 308, "first chunk");
        if (response.headers["range"] !== `bytes=0-${CHUNK - 1}`) fail(`expected range bytes=0-${CHUNK - 1}, got ${response.headers["range"]}`);
      },
    },
    {
      name: "sends a body given as many views, in order, byte for byte",
      async run() {
        const { sessionUri, name } = await startSession();
        const text = "The quick brown fox jumps over the lazy dog. ".repeat(20000);
        const all = bytesOf(text);
        const views: Uint8Array[] = [];
        for (let at = 0, step = 1; at < all.byteLength; at += step, step = (step * 7) % 65521 + 1) views.push(all.subarray(at, Math.min(all.byteLength, at + step)));
        const response = await put(sessionUri, `bytes 0-${all.byteLength - 1}/${all.byteLength}`, views);
        expectStatus(response, 200, "single final request");
        const object = JSON.parse(response.body) as { size: string };
        if (object.size !== String(all.byteLength)) fail(`object size ${object.size}, expected ${all.byteLength}`);
        if (!equalBytes(await download(name), all)) fail("downloaded bytes differ from the views sent");
      },
    },
    {
      name: "returns 4xx and 5xx statuses as responses, with the error body",
      async run() {
        const id = await faults(["return-503"]);
        const { sessionUri } = await startSession();
        const unavailable = await put(sessionUri, "bytes */*", [], { "x-retry-test-id": id });
        expectStatus(unavailable, 503, "injected 503");
        const missing = await put(`${sessionUri}x`, "bytes */*", []);
        if (missing.status < 400 || missing.status >= 500) fail(`unknown session should be a 4xx, got ${missing.status}`);
        if (!missing.body.includes("error")) fail("a 4xx must carry the server's JSON error body");
      },
    },
    {
      name: "rejects when the connection is reset before a response",
      async run() {
        const id = await faults(["return-reset-connection"]);
        const { sessionUri } = await startSession();
        const outcome = await put(sessionUri, `bytes 0-${CHUNK - 1}/*`, [pattern(CHUNK, 2)], { "x-retry-test-id": id }).then(
          (r) => `resolved with ${r.status}`,
          () => "rejected",
        );
        if (outcome !== "rejected") fail(`a reset connection must reject, but the promise ${outcome}`);
      },
    },
    {
      name: "rejects when the response body is cut short, even though the object was committed",
      async run() {
        const id = await faults(["return-broken-stream-final-chunk-after-10B"]);
        const { sessionUri } = await startSession();
        const outcome = await put(sessionUri, `bytes 0-99/100`, [pattern(100, 3)], { "x-retry-test-id": id }).then(
          (r) => `resolved with ${r.status}`,
          () => "rejected",
        );
        if (outcome !== "rejected") fail(`a truncated response must reject, but the promise ${outcome}`);
        const after = await put(sessionUri, "bytes */100", []);
        if (after.status !== 200 && after.status !== 201) fail(`the committed object should answer the query with 200, got ${after.status}`);
      },
    },
    {
      name: "abandons the exchange promptly when the signal aborts",
      async run() {
        const id = await faults(["stall-for-3s-after-128K"]);
        const { sessionUri } = await startSession();
        const abort = new TestAbort();
        const started = Date.now();
        const outcome = send(
          { method: "PUT", url: sessionUri, headers: { "content-range": `bytes 0-${CHUNK - 1}/*`, "x-retry-test-id": id }, body: [pattern(CHUNK, 4)] },
          abort,
        ).then(
          () => "resolved",
          () => "rejected",
        );
        setTimeout(() => abort.abort(new Error("test abort")), 200);
        if ((await outcome) !== "rejected") fail("an aborted exchange must reject");
        if (Date.now() - started > 2500) fail("the abort took longer than the stall: it was not prompt");
      },
    },
    {
      name: "rejects at once when the signal is already aborted",
      async run() {
        const abort = new TestAbort();
        abort.abort(new Error("already"));
        const outcome = await send({ method: "GET", url: `${baseUrl}/storage/v1/b/${bucket}`, headers: {}, body: [] }, abort).then(
          () => "resolved",
          () => "rejected",
        );
        if (outcome !== "rejected") fail("an exchange whose signal was already aborted must reject");
      },
    },
    {
      name: "reports cumulative upload progress up to the body length (when the transport promises it)",
      async run() {
        if (options.reportsUploadProgress !== true) return;
        const { sessionUri } = await startSession();
        const seen: number[] = [];
        const size = 4 * CHUNK;
        const response = await send(
          { method: "PUT", url: sessionUri, headers: { "content-range": `bytes 0-${size - 1}/*` }, body: [pattern(size, 5)] },
          new TestAbort(),
          (n) => seen.push(n),
        );
        expectStatus(response, 308, "progress chunk");
        if (seen.length === 0) fail("no progress reported");
        for (let i = 1; i < seen.length; i += 1) if (seen[i]! < seen[i - 1]!) fail("progress went backwards");
        if (seen.at(-1) !== size) fail(`progress ended at ${seen.at(-1)}, expected ${size}`);
      },
    },
    {
      name: "never follows a 3xx and passes an empty body as length 0",
      async run() {
        const { sessionUri } = await startSession();
        const empty = await put(sessionUri, "bytes */0", []);
        if (empty.status !== 200 && empty.status !== 201) fail(`a zero-byte finalize should be 200, got ${empty.status}`);
        const object = JSON.parse(empty.body) as { size: string };
        if (object.size !== "0") fail(`zero-byte object has size ${object.size}`);
      },
    },
  ];
}
