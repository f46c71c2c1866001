// One benchmark client, run in its own child process so its CPU time and RSS are its own.
//
//   node client.mjs <kind> <endpoint> <bucket> <object> <sizeBytes> <chunkBytes|0> <crc32c|none>
//
// kinds: node (ours, gaxios transport), node-http (ours, node:http transport), gcs (the peer's
// createWriteStream in its default single-request resumable mode), gcs-chunked (the peer with
// `chunkSize`), raw-put (one session start and one PUT of the whole body: the ceiling).
//
// Prints one JSON line on stdout: { kind, bytes, wallMs, cpuUserS, cpuSystemS, peakRssMiB, object }.
// The payload is the same for every client: one pre-generated 1 MiB pseudo-random block, copied into
// a fresh buffer per write (clients may hold written buffers by reference) with a counter stamped in
// its first 8 bytes, so generation costs one 1 MiB memcpy per MiB whichever client runs.
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
function* blocks() {
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
async function runOurs(transport) {
  const { createUploadStream } = modules;
  const stream = createUploadStream({
    apiEndpoint: endpoint,
    bucket,
    name: objectName,
    auth: false,
    transport,
    checksum: verify ? "crc32c" : "none",
    ...(chunkSize > 0 ? { chunkSize } : {}),
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

const runners = {
  node: () => runOurs("gaxios"),
  "node-http": () => runOurs("http"),
  gcs: () => runPeer(false),
  "gcs-chunked": () => runPeer(true),
  "raw-put": () => runRaw(),
};
if (!runners[kind]) {
  process.stderr.write(`unknown client kind ${kind}\n`);
  process.exit(2);
}

// Each client loads only its own library, before the clock starts (its RSS counts, its load time does not).
const modules = kind.startsWith("node") ? await import("@resumable-gcs/node") : kind.startsWith("gcs") ? await import("@google-cloud/storage") : {};
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const object = await runners[kind]();
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024);
process.stdout.write(
  `${JSON.stringify({ kind, bytes: object.size, crc32c: object.crc32c, wallMs, cpuUserS: cpu.user / 1e6, cpuSystemS: cpu.system / 1e6, peakRssMiB: peakRss / MiB, peakArrayBuffersMiB: peakArrayBuffers / MiB })}\n`,
);
