// Benchmarks for @resumable-gcs/core (run with `pnpm bench`; needs `pnpm build` first, which turbo does).
//
// 1. Machine overhead per chunk at 8 MiB chunks: the machine driven by hand against an instant fake
//    server, checksums off, so the figure is the machine's own bookkeeping. Checksum cost is reported
//    separately (native and portable CRC32C over one 8 MiB chunk).
// 2. Driver overhead per chunk: the same through UploadDriver with an instant async transport.
// 3. Retained memory over a long simulated upload through the in-memory model (discard mode, fresh
//    1 MiB buffers per write): heap and ArrayBuffer memory are sampled after a GC and must stay flat.
//
// No wall-clock assertions: this prints figures; tests never depend on timing.
import { crc32c as nativeCrc32c } from "@node-rs/crc32";
import { UploadDriver, UploadMachine } from "../dist/index.js";
import { GcsModel, crc32c as portableCrc32c, seededRandom } from "../dist/test-support/index.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const CHUNK = 8 * MiB;
const full = process.env.RGCS_BENCH_FULL === "1";
const gc = globalThis.gc ?? (() => undefined);

const rows = [];
function row(name, value, unit, note = "") {
  rows.push({ name, value, unit, note });
}

function machineOptions(extra = {}) {
  return { target: { kind: "json", bucket: "bench-bucket", name: "bench-object" }, random: seededRandom(1), chunkSize: CHUNK, checksum: "none", ...extra };
}

const SESSION = "https://storage.googleapis.com/upload/storage/v1/b/bench-bucket/o?uploadType=resumable&name=bench-object&upload_id=BenchSessionId0123456789";

function startedMachine(extra) {
  const machine = new UploadMachine(machineOptions(extra));
  const start = machine.poll(0);
  machine.onResponse(start.id, { status: 200, headers: { location: SESSION }, body: "" }, 0);
  while (machine.pollEvent() !== undefined);
  return machine;
}

/** Drives `chunks` full chunks through a started machine; returns ns per chunk. */
function machinePerChunk(chunks, pieces) {
  const machine = startedMachine();
  const buffer = new Uint8Array(CHUNK);
  const pieceSize = CHUNK / pieces;
  const views = Array.from({ length: pieces }, (_, i) => buffer.subarray(i * pieceSize, (i + 1) * pieceSize));
  // With an unknown total a full chunk waits for a byte beyond it: prime one chunk, so each round's
  // writes release the previous chunk (steady state: one chunk held, one sent per round).
  for (const view of views) machine.write(view);
  if (machine.poll(0).type !== "need-data") throw new Error("expected need-data");
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < chunks; i++) {
    for (const view of views) machine.write(view);
    const send = machine.poll(0);
    if (send.type !== "send") throw new Error(`expected send, came ${send.type}`);
    machine.onResponse(send.id, { status: 308, headers: { range: `bytes=0-${(i + 1) * CHUNK - 1}` }, body: "" }, 0);
    if (machine.poll(0).type !== "need-data") throw new Error("expected need-data");
    while (machine.pollEvent() !== undefined);
  }
  const ns = Number(process.hrtime.bigint() - t0) / chunks;
  if (machine.bytesPersisted !== chunks * CHUNK || machine.bytesBuffered !== CHUNK) throw new Error("bookkeeping is off");
  return ns;
}

function checksumPerChunk(fn, rounds) {
  const buffer = new Uint8Array(CHUNK).map((_, i) => i * 31);
  let v = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) v = fn(buffer, v);
  return Number(process.hrtime.bigint() - t0) / rounds;
}

async function driverPerChunk(chunks) {
  const clock = {
    now: () => Number(process.hrtime.bigint()) / 1e6,
    setTimer: (callback, ms) => {
      const t = setTimeout(callback, ms);
      return () => clearTimeout(t);
    },
  };
  let persisted = 0;
  const transport = {
    specificationVersion: 2,
    capabilities: { uploadProgress: false },
    async send(request) {
      if (request.method === "POST") return { status: 200, headers: { location: SESSION }, body: "" };
      persisted += request.bodyLength;
      if (request.headers["content-range"].endsWith("/*")) return { status: 308, headers: { range: `bytes=0-${persisted - 1}` }, body: "" };
      return { status: 200, headers: {}, body: JSON.stringify({ size: String(persisted) }) };
    },
  };
  const machine = new UploadMachine(machineOptions());
  const driver = new UploadDriver({ machine, transport, clock });
  const buffer = new Uint8Array(CHUNK);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < chunks; i++) await driver.write(buffer);
  await driver.end();
  return Number(process.hrtime.bigint() - t0) / chunks;
}

function memoryOverLongUpload(total, writeSize) {
  // The model checks X-Goog-Hash and states the object's crc32c (the machine verifies it), with the
  // same native CRC32C so the figure stays the client's cost.
  const model = new GcsModel({ keepContent: false, crc32c: (bytes, initial) => nativeCrc32c(bytes, initial) });
  const crc = (initial = 0) => {
    let value = initial >>> 0;
    const self = {
      update: (bytes) => void (value = nativeCrc32c(bytes, value)),
      value: () => value,
      digest: () => new Uint8Array([value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]),
      clone: () => crc(value),
    };
    return self;
  };
  const machine = new UploadMachine(machineOptions({ checksum: "crc32c", checksums: { crc32c: crc }, totalSize: total }));
  const samples = [];
  const sample = (offset) => {
    gc();
    const m = process.memoryUsage();
    samples.push({ offset, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, rss: m.rss, buffered: machine.bytesBuffered });
  };
  let written = 0;
  let nextSample = 0;
  const t0 = process.hrtime.bigint();
  for (;;) {
    while (machine.wantsData && written < total) {
      // A fresh buffer per write: if anything kept a reference after acknowledgement, it would show.
      machine.write(new Uint8Array(Math.min(writeSize, total - written)));
      written += Math.min(writeSize, total - written);
    }
    if (written === total && !machine.isFinished && machine.wantsData) machine.end();
    if (written >= nextSample) {
      sample(written);
      nextSample += total / 16;
    }
    const action = machine.poll(0);
    if (action.type === "send") {
      const outcome = model.handle(action.request);
      machine.onResponse(action.id, outcome.response, 0);
    } else if (action.type === "done") break;
    else if (action.type !== "need-data") throw new Error(`unexpected ${action.type}: ${action.error?.message}`);
    while (machine.pollEvent() !== undefined);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  sample(total);
  return { samples, seconds };
}

const fmt = (n, digits = 1) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

// Warm up the JIT, then measure.
machinePerChunk(200, 1);
machinePerChunk(50, 128);
const chunks = full ? 20_000 : 5_000;
row("machine overhead per 8 MiB chunk, 1 write/chunk", fmt(machinePerChunk(chunks, 1) / 1000, 2), "µs", `target ≤ 50 µs; ${chunks} chunks, checksums off`);
row("machine overhead per 8 MiB chunk, 128 × 64 KiB writes", fmt(machinePerChunk(chunks / 5, 128) / 1000, 2), "µs", "includes 128 write() calls and a 128-view body");
row("  + CRC32C native (@node-rs/crc32) per 8 MiB", fmt(checksumPerChunk((b, v) => nativeCrc32c(b, v), 50) / 1000, 0), "µs", "checksum cost, reported apart");
row("  + CRC32C portable (test-support) per 8 MiB", fmt(checksumPerChunk((b, v) => portableCrc32c(b, v), 10) / 1000, 0), "µs", "checksum cost, reported apart");
await driverPerChunk(100);
row("driver loop per 8 MiB chunk (instant async transport)", fmt((await driverPerChunk(full ? 5000 : 2000)) / 1000, 2), "µs", "poll/act/report through promises and timers");

const total = full ? 16 * GiB : 4 * GiB;
const { samples, seconds } = memoryOverLongUpload(total, MiB);
const heap = samples.map((s) => s.heapUsed);
const arrays = samples.map((s) => s.arrayBuffers);
const spread = (xs) => (Math.max(...xs) - Math.min(...xs)) / MiB;
row(`long upload: ${total / GiB} GiB through the model (1 MiB writes)`, fmt(total / MiB / seconds, 0), "MiB/s", `${fmt(seconds, 1)} s, CRC32C native on, model discards`);
row("  heapUsed spread across samples", fmt(spread(heap), 2), "MiB", `min ${fmt(Math.min(...heap) / MiB)} / max ${fmt(Math.max(...heap) / MiB)} MiB`);
row("  arrayBuffers spread across samples", fmt(spread(arrays), 2), "MiB", `min ${fmt(Math.min(...arrays) / MiB)} / max ${fmt(Math.max(...arrays) / MiB)} MiB`);
row("  max bytes retained by the machine", fmt(Math.max(...samples.map((s) => s.buffered)) / MiB, 2), "MiB", "bound: 2 chunks + 1 write = 17 MiB");

const widths = [Math.max(...rows.map((r) => r.name.length)), Math.max(...rows.map((r) => r.value.length)), 5];
console.log(`\n@resumable-gcs/core bench (node ${process.version}, ${process.arch})\n`);
for (const r of rows) console.log(`${r.name.padEnd(widths[0])}  ${r.value.padStart(widths[1])} ${r.unit.padEnd(widths[2])}  ${r.note}`);
console.log("\nmemory samples (after gc):");
console.log(`${"offset".padStart(10)}  ${"heapUsed".padStart(10)}  ${"arrayBuf".padStart(10)}  ${"rss".padStart(10)}  ${"retained".padStart(10)}`);
for (const s of samples) {
  console.log(
    `${fmt(s.offset / GiB, 2).padStart(8)}Gi  ${fmt(s.heapUsed / MiB).padStart(8)}Mi  ${fmt(s.arrayBuffers / MiB).padStart(8)}Mi  ${fmt(s.rss / MiB).padStart(8)}Mi  ${fmt(s.buffered / MiB).padStart(8)}Mi`,
  );
}
