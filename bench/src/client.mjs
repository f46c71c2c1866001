// One benchmark client, run in its own child process so its CPU time and RSS are its own.
//
//   node client.mjs <kind> <endpoint> <bucket> <object> <sizeBytes> <chunkBytes|0> <crc32c|none>
//
// kinds: node (ours, gaxios transport), node-http (ours, node:http transport), gcs (the peer's
// createWriteStream in its default single-request resumable mode), gcs-chunked (the peer with
// `chunkSize`), raw-put (one session start and one PUT of the whole body: the ceiling),
// node-multipart / node-multipart-http (ours: the Node adapter with `parallelism: 4`, the XML
// multipart engine, <chunkBytes> parts, on the gaxios / node:http transport), node-resumable (ours: the Node adapter with `singleRequest: "never"`: a session even below one chunk),
// gcs-tm (the peer's transfer manager `uploadFileInChunks`, XML multipart from a file written
// before the clock starts: it uploads files only), web (ours: @resumable-gcs/web's WritableStream on
// Node, global fetch, `pipeTo` from a ReadableStream), iter (ours: @resumable-gcs/iter's `upload()`
// from the generator, on the Node adapter's runtime: gaxios transport, native CRC32C).
//
// Prints one JSON line on stdout: { kind, bytes, wallMs, cpuUserS, cpuSystemS, peakRssMiB, object }.
// The payload is the same for every client: one pre-generated 1 MiB pseudo-random block, copied into
// a fresh buffer per write (clients may hold written buffers by reference) with a counter stamped in
// its first 8 bytes, so generation costs one 1 MiB memcpy per MiB whichever client runs.
// Profiling switch RGCS_BENCH_PAYLOAD=ring: every client instead gets the same 16 pre-generated 1 MiB
// buffers over and over (generated before the clock starts), so no buffer is allocated per write and
// the CPU column measures the clients without the payload's allocation and the garbage collection
// it causes. Peak RSS then understates what a client that holds written buffers by reference keeps
// (held ring buffers cost nothing extra): read memory from the default payload only.
import http from "node:http";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { stampedBlocks } from "@resumable-gcs/test-utils";

const MiB = 1024 * 1024;
const [kind, endpoint, bucket, objectName, sizeText, chunkText, checksum] = process.argv.slice(2);
const size = Number(sizeText);
const chunkSize = Number(chunkText);
if (!kind || !endpoint || !bucket || !objectName || !Number.isSafeInteger(size) || !Number.isSafeInteger(chunkSize) || !["crc32c", "none"].includes(checksum)) {
  process.stderr.write("usage: client.mjs <kind> <endpoint> <bucket> <object> <sizeBytes> <chunkBytes|0> <crc32c|none>\n");
  process.exit(2);
}
const verify = checksum === "crc32c";

// --- payload -------------------------------------------------------------------------------------
const ring =
  process.env.RGCS_BENCH_PAYLOAD === "ring" ? [...stampedBlocks(Math.min(size, 16 * MiB), { blockSize: MiB })].map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)) : undefined;

function* blocks() {
  if (ring !== undefined) {
    for (let at = 0, i = 0; at < size; at += MiB, i++) {
      const block = ring[i % ring.length];
      yield at + block.byteLength <= size ? block : block.subarray(0, size - at);
    }
    return;
  }
  // One pattern block generated once, copied into a fresh buffer per MiB with a counter stamped in.
  for (const block of stampedBlocks(size, { blockSize: MiB })) yield Buffer.from(block.buffer, block.byteOffset, block.byteLength);
}

// --- memory sampling -----------------------------------------------------------------------------
let peakRss = process.memoryUsage.rss();
let peakArrayBuffers = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  peakArrayBuffers = Math.max(peakArrayBuffers, process.memoryUsage().arrayBuffers);
}, 50);

// --- clients -------------------------------------------------------------------------------------
/**
 * Ours: the Node adapter with its default options; `resumable` keeps a session even below one chunk,
 * `parallel` sends `parallelism: 4` parts of <chunkBytes> (the XML multipart engine).
 */
async function runOurs(transport, { resumable = false, parallel = false } = {}) {
  const { createUploadStream } = modules;
  const stream = createUploadStream({
    apiEndpoint: endpoint,
    bucket,
    name: objectName,
    auth: false,
    transport,
    checksum: verify ? "crc32c" : "none",
    ...(resumable ? { singleRequest: "never" } : {}),
    ...(parallel ? { parallelism: 4, partSize: chunkSize } : chunkSize > 0 ? { chunkSize } : {}),
  });
  await pipeline(Readable.from(blocks()), stream);
  const object = await stream.done;
  return { size: Number(object.size), crc32c: object.crc32c };
}

async function runPeer(chunked) {
  const { Storage } = modules;
  const storage = new Storage({ apiEndpoint: endpoint, projectId: "bench", useAuthWithCustomEndpoint: false });
  const file = storage.bucket(bucket).file(objectName);
  const writable = file.createWriteStream({
    resumable: true,
    validation: verify ? "crc32c" : false,
    metadata: { contentType: "application/octet-stream" },
    ...(chunked ? { chunkSize } : {}),
  });
  let response;
  writable.on("response", (r) => (response = r));
  await pipeline(Readable.from(blocks()), writable);
  const metadata = file.metadata ?? response?.data ?? {};
  return { size: Number(metadata.size), crc32c: metadata.crc32c };
}

function request(url, options, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, options, (res) => {
      const parts = [];
      res.on("data", (d) => parts.push(d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts).toString() }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (typeof body === "function") body(req);
    else req.end(body);
  });
}

async function runRaw() {
  const start = await request(
    `${endpoint}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(objectName)}`,
    { method: "POST", headers: { "content-type": "application/json" } },
    "{}",
  );
  if (start.status !== 200 || !start.headers.location) throw new Error(`session start answered ${start.status}: ${start.body}`);
  const headers = { "content-length": String(size), "content-range": size === 0 ? "bytes */0" : `bytes 0-${size - 1}/${size}` };
  const done = await request(start.headers.location, { method: "PUT", headers }, (req) => {
    const sink = new Writable({
      write(chunk, _enc, callback) {
        if (req.write(chunk)) callback();
        else req.once("drain", callback);
      },
      final(callback) {
        req.end(callback);
      },
    });
    pipeline(Readable.from(blocks()), sink).catch((error) => req.destroy(error));
  });
  if (done.status !== 200) throw new Error(`PUT answered ${done.status}: ${done.body}`);
  const object = JSON.parse(done.body);
  return { size: Number(object.size), crc32c: object.crc32c };
}

/** Ours, Web Streams: the web adapter on Node's global fetch, fed by `pipeTo` (backpressure through the stream). */
async function runWeb() {
  const { createUploadStream } = modules;
  const upload = createUploadStream({ apiEndpoint: endpoint, bucket, name: objectName, checksum: verify ? "crc32c" : "none", ...(chunkSize > 0 ? { chunkSize } : {}) });
  await ReadableStream.from(blocks()).pipeTo(upload);
  const object = await upload.done;
  return { size: Number(object.size), crc32c: object.crc32c };
}

/** Ours, async iterable: `upload(generator)` on the Node adapter's runtime (the same transport and checksums as the `node` row). */
async function runIter() {
  const { upload } = modules.iter;
  const { nodeRuntime } = modules.node;
  const object = await upload(blocks(), {
    runtime: nodeRuntime,
    apiEndpoint: endpoint,
    bucket,
    name: objectName,
    auth: false,
    checksum: verify ? "crc32c" : "none",
    ...(chunkSize > 0 ? { chunkSize } : {}),
  });
  return { size: Number(object.size), crc32c: object.crc32c };
}

/**
 * The peer's parallel uploader. Its XML requests go to `https://{bucket}.{host}/{object}` (virtual
 * host, always https), which no loopback emulator can answer; a shim auth client sends them to the
 * emulator's path-style URL instead, through gaxios like the peer's own client, without credentials.
 */
async function runTransferManager() {
  const { Storage, TransferManager } = modules;
  const { writeFileSync, mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { request } = await import("gaxios");
  const dir = mkdtempSync(join(tmpdir(), "rgcs-bench-"));
  const file = join(dir, "source.bin");
  writeFileSync(file, Buffer.concat([...blocks()]));
  const storage = new Storage({ apiEndpoint: endpoint, projectId: "bench", useAuthWithCustomEndpoint: false });
  const host = new URL(endpoint).hostname;
  storage.authClient = {
    // The peer's authenticated client reads XML answers as text; a bare gaxios call must be told to.
    request: (options) => request({ responseType: "text", ...options, url: String(options.url).replace(`https://${bucket}.${host}/`, `${endpoint}/${bucket}/`) }),
  };
  const manager = new TransferManager(storage.bucket(bucket));
  try {
    timer.start();
    await manager.uploadFileInChunks(file, { uploadName: objectName, chunkSizeBytes: chunkSize, concurrencyLimit: 4, validation: verify ? "crc32c" : false });
    timer.stop();
    const [metadata] = await storage.bucket(bucket).file(objectName).getMetadata();
    return { size: Number(metadata.size), crc32c: metadata.crc32c };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const runners = {
  "node-multipart-http": () => runOurs("http", { parallel: true }),
  node: () => runOurs("gaxios"),
  "node-http": () => runOurs("http"),
  gcs: () => runPeer(false),
  "gcs-chunked": () => runPeer(true),
  "raw-put": () => runRaw(),
  "node-multipart": () => runOurs("gaxios", { parallel: true }),
  "node-resumable": () => runOurs("gaxios", { resumable: true }),
  "gcs-tm": () => runTransferManager(),
  web: () => runWeb(),
  iter: () => runIter(),
};
if (!runners[kind]) {
  process.stderr.write(`unknown client kind ${kind}\n`);
  process.exit(2);
}

// Each client loads only its own library, before the clock starts (its RSS counts, its load time does not).
const modules = kind.startsWith("node")
  ? { ...(await import("@resumable-gcs/node")), core: await import("@resumable-gcs/core") }
  : kind.startsWith("gcs")
    ? await import("@google-cloud/storage")
    : kind === "web"
      ? await import("@resumable-gcs/web")
      : kind === "iter"
        ? { iter: await import("@resumable-gcs/iter"), node: await import("@resumable-gcs/node") }
        : {};
// The span measured: from the first request to the final object. A client that must prepare
// something first (the transfer manager's file) restarts it.
const timer = {
  cpu0: process.cpuUsage(),
  t0: performance.now(),
  end: undefined,
  start() {
    this.cpu0 = process.cpuUsage();
    this.t0 = performance.now();
  },
  stop() {
    this.end = { wallMs: performance.now() - this.t0, cpu: process.cpuUsage(this.cpu0) };
  },
};
const object = await runners[kind]();
if (timer.end === undefined) timer.stop();
const { wallMs, cpu } = timer.end;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024);
process.stdout.write(
  `${JSON.stringify({ kind, bytes: object.size, crc32c: object.crc32c, wallMs, cpuUserS: cpu.user / 1e6, cpuSystemS: cpu.system / 1e6, peakRssMiB: peakRss / MiB, peakArrayBuffersMiB: peakArrayBuffers / MiB })}\n`,
);
