// `pnpm bench`: our adapters (node, web on Node's fetch, iter) side by side with @google-cloud/storage and a raw single PUT.
//
// One emulator process (the package's bin, discard mode without MD5, loopback) per table; every upload runs in
// its own child process (client.mjs) so its CPU time and peak RSS are its own. Requests are counted
// from the emulator's --verbose log (one line per request, filtered by the run's unique object name).
// Runs are interleaved (A B C A B C ...) and reported as median with min–max.
//
//   node src/run.mjs            64 MiB and 1 GiB, chunks 8 and 32 MiB, CRC32C on and off, with the
//                               parallel rows (multipart engine, 4 × 16 MiB parts); then 256 MiB with
//                               20 ms emulator latency (the transfer manager row added); then 100 KiB
//                               at 20 ms (one request against two); writes ../BENCHMARKS.md
//   node src/run.mjs --full     also 4 GiB
//   node src/run.mjs --smoke    small sizes, 256 KiB and 1 MiB chunks, 5 MiB parts, one repetition
//   --reps N (default 3), --reps-large N (repetitions at 1 GiB and above, default 2), --no-write
//   RGCS_BENCH_ONLY=node,raw-put   profiling: only these client kinds, in every table (with --no-write)
//   RGCS_BENCH_PAYLOAD=ring        profiling: no payload allocation per write (see client.mjs; CPU only)
import { spawn } from "node:child_process";
import { cpus, loadavg, totalmem } from "node:os";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const here = new URL(".", import.meta.url);
const CLIENT = fileURLToPath(new URL("./client.mjs", here));
const EMULATOR_BIN = fileURLToPath(import.meta.resolve("@resumable-gcs/emulator").replace(/index\.js$/, "bin.js"));
const BUCKET = "bench";

/** Row kinds, in table order. `chunked: false` kinds ignore the chunk size; `partSize` kinds use their own. */
export const CLIENTS = [
  { kind: "node", label: "ours: @resumable-gcs/node (gaxios)", chunked: true },
  { kind: "node-http", label: "ours: @resumable-gcs/node (node:http)", chunked: true },
  { kind: "web", label: "ours: @resumable-gcs/web on Node (fetch)", chunked: true },
  { kind: "iter", label: "ours: @resumable-gcs/iter (Node runtime, gaxios)", chunked: true },
  { kind: "gcs", label: "@google-cloud/storage (single request)", chunked: false },
  { kind: "gcs-chunked", label: "@google-cloud/storage (chunkSize)", chunked: true },
  { kind: "raw-put", label: "raw single PUT (ceiling)", chunked: false, checksumOffOnly: true },
];

/** The parallel rows: 4 parts in flight, 16 MiB parts (smoke: 5 MiB, GCS's minimum). */
export function parallelClients(partSize = 16 * MiB) {
  return [
    { kind: "node-multipart", label: "ours: @resumable-gcs/node, parallelism 4 (gaxios)", chunked: false, partSize },
    { kind: "node-multipart-http", label: "ours: @resumable-gcs/node, parallelism 4 (node:http)", chunked: false, partSize },
    { kind: "gcs-tm", label: "@google-cloud/storage transfer manager uploadFileInChunks, 4 at once (files only)", chunked: false, partSize },
  ];
}

/** The small-object rows: one request (ours) against session start + PUT. */
export const SMALL_CLIENTS = [
  { kind: "node", label: "ours: @resumable-gcs/node, default options (one uploadType=multipart request, gaxios)", chunked: false },
  { kind: "node-resumable", label: "ours: @resumable-gcs/node, singleRequest: \"never\" (session start + PUT, gaxios)", chunked: false },
  { kind: "gcs", label: "@google-cloud/storage (single request)", chunked: false },
  { kind: "raw-put", label: "raw single PUT (session start + PUT)", chunked: false, checksumOffOnly: true },
];

function formatSize(bytes) {
  if (bytes >= GiB) return `${bytes / GiB} GiB`;
  if (bytes >= MiB) return `${bytes / MiB} MiB`;
  return `${bytes / KiB} KiB`;
}

async function startEmulator(latencyMs) {
  // --no-md5: no client here asks for MD5 validation (ours use CRC32C or none, the peer
  // `validation: "crc32c"` or false, which sends only `X-Goog-Hash: crc32c=...`), and on a small
  // machine the server's MD5 would take CPU from the client under test.
  const args = [EMULATOR_BIN, "--port", "0", "--storage", "discard", "--no-md5", "--latency-ms", String(latencyMs), "--bucket", BUCKET, "--verbose"];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const lines = [];
  let pending = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text) => {
    pending += text;
    const parts = pending.split("\n");
    pending = parts.pop();
    lines.push(...parts);
  });
  const url = await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (text) => {
      out += text;
      const newline = out.indexOf("\n");
      if (newline >= 0) resolve(out.slice(0, newline).trim());
    });
    child.once("exit", (code) => reject(new Error(`emulator exited with ${code}: ${lines.join("\n")}`)));
  });
  return {
    url,
    /** Requests the emulator saw for one object (session start, chunks, queries, metadata). */
    requestsFor(object) {
      const pattern = new RegExp(`(name=${object}(&|\\s)|/o/${object}(\\?|\\s)|/${BUCKET}/${object}(\\?|\\s))`);
      return lines.filter((line) => pattern.test(line)).length;
    },
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", resolve);
        child.kill("SIGTERM");
      }),
  };
}

function runClient(emulator, kind, object, size, chunkSize, checksum) {
  return new Promise((resolve) => {
    const args = [CLIENT, kind, emulator.url, BUCKET, object, String(size), String(chunkSize), checksum];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.once("exit", (code) => {
      // Let the emulator's last log lines arrive before counting them.
      setTimeout(() => {
        const requests = emulator.requestsFor(object);
        if (code !== 0) {
          const message = /message: '([^']*)'/.exec(err)?.[1] ?? err.trim().split("\n").slice(-3).join(" ");
          resolve({ ok: false, error: message, requests });
          return;
        }
        const result = JSON.parse(out.trim().split("\n").pop());
        resolve({ ok: true, ...result, requests });
      }, 100);
    });
  });
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs one table. Returns rows with every run kept. */
export async function runTable({ latencyMs, sizes, chunkSizes, reps, repsLarge, clients = CLIENTS, checksums = ["crc32c", "none"], log = () => undefined }) {
  const only = process.env.RGCS_BENCH_ONLY?.split(",").filter(Boolean);
  if (only !== undefined && only.length > 0) clients = clients.filter((client) => only.includes(client.kind));
  const emulator = await startEmulator(latencyMs);
  const rows = [];
  let serial = 0;
  try {
    for (const size of sizes) {
      for (const checksum of checksums) {
        const group = [];
        for (const client of clients) {
          if (client.checksumOffOnly && checksum !== "none") continue;
          for (const chunkSize of client.chunked ? chunkSizes : [client.partSize ?? 0]) group.push({ ...client, size, checksum, chunkSize, runs: [] });
        }
        const n = size >= GiB ? repsLarge : reps;
        for (let rep = 0; rep < n; rep++) {
          for (const row of group) {
            const object = `o${serial++}-${row.kind}`;
            const run = await runClient(emulator, row.kind, object, size, row.chunkSize, checksum);
            if (run.ok && run.bytes !== size) Object.assign(run, { ok: false, error: `object has ${run.bytes} bytes, expected ${size}` });
            row.runs.push(run);
            log(
              `${formatSize(size)} ${checksum} ${row.kind}${row.chunkSize ? `@${formatSize(row.chunkSize)}` : ""} #${rep + 1}: ` +
                (run.ok ? `${((size / MiB) / (run.wallMs / 1000)).toFixed(1)} MiB/s, ${run.requests} requests` : `FAILED ${run.error}`),
            );
          }
        }
        rows.push(...group);
      }
    }
  } finally {
    await emulator.stop();
  }
  return rows;
}

function stat(values, digits) {
  const f = (v) => v.toFixed(digits);
  if (values.length === 1) return f(values[0]);
  return `${f(median(values))} (${f(Math.min(...values))}–${f(Math.max(...values))})`;
}

/** A Markdown table of medians with min–max. */
export function formatTable(rows) {
  const head = ["client", "size", "chunk", "CRC32C", "MiB/s", "wall ms", "CPU s", "peak RSS MiB", "peak ArrayBuffers MiB", "requests", "runs"];
  const lines = [`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`];
  for (const row of rows) {
    const ok = row.runs.filter((r) => r.ok);
    const base = [row.label, formatSize(row.size), row.chunkSize ? formatSize(row.chunkSize) : "—", row.checksum === "crc32c" ? "on" : "off"];
    if (ok.length === 0) {
      lines.push(`| ${[...base, `failed: ${row.runs[0]?.error ?? "?"}`, "", "", "", "", String(row.runs[0]?.requests ?? ""), String(row.runs.length)].join(" | ")} |`);
      continue;
    }
    const mibs = ok.map((r) => row.size / MiB / (r.wallMs / 1000));
    const cpu = ok.map((r) => r.cpuUserS + r.cpuSystemS);
    const rss = ok.map((r) => r.peakRssMiB);
    const arrayBuffers = ok.map((r) => r.peakArrayBuffersMiB);
    const requests = ok.map((r) => r.requests);
    const reqText = Math.min(...requests) === Math.max(...requests) ? String(requests[0]) : stat(requests, 0);
    const runs = ok.length === row.runs.length ? String(ok.length) : `${ok.length}/${row.runs.length}`;
    // Small objects take well under a second: their throughput needs a decimal, their wall time says more.
    const wall = ok.map((r) => r.wallMs);
    lines.push(`| ${[...base, stat(mibs, median(mibs) < 10 ? 1 : 0), stat(wall, 0), stat(cpu, 2), stat(rss, 0), stat(arrayBuffers, 0), reqText, runs].join(" | ")} |`);
  }
  return lines.join("\n");
}

function machine() {
  const model = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? cpus()[0]?.model ?? "unknown";
  return `${cpus().length} cores, ${(totalmem() / GiB).toFixed(0)} GiB memory, ${model}; Node ${process.version}, ${process.platform}-${process.arch}`;
}

async function main() {
  const { values } = parseArgs({
    options: {
      full: { type: "boolean" },
      smoke: { type: "boolean" },
      reps: { type: "string" },
      "reps-large": { type: "string" },
      "latency-ms": { type: "string" },
      "no-write": { type: "boolean" },
    },
    strict: true,
  });
  const full = values.full || process.env.RGCS_BENCH_FULL === "1";
  const smoke = Boolean(values.smoke);
  const reps = Number(values.reps ?? (smoke ? 1 : 3));
  const repsLarge = Number(values["reps-large"] ?? (smoke ? 1 : 2));
  const latencyMs = Number(values["latency-ms"] ?? 20);
  const sizes = smoke ? [64 * KiB, 4 * MiB] : full ? [64 * MiB, GiB, 4 * GiB] : [64 * MiB, GiB];
  const chunkSizes = smoke ? [256 * KiB, MiB] : [8 * MiB, 32 * MiB];
  // Parts of at least 5 MiB (GCS's minimum): the smoke run uses the minimum.
  const partSize = smoke ? 5 * MiB : 16 * MiB;
  const latencySizes = smoke ? [12 * MiB] : [256 * MiB];
  const smallSize = 100 * KiB;
  const log = (line) => process.stderr.write(`${line}\n`);
  const started = new Date();
  const loadBefore = loadavg()[0];

  log(`table 1: no latency; sizes ${sizes.map(formatSize).join(", ")}; ${reps} reps (${repsLarge} at ≥ 1 GiB)`);
  const plainClients = [...CLIENTS, ...parallelClients(partSize).filter((c) => c.kind !== "gcs-tm")];
  const plain = await runTable({ latencyMs: 0, sizes, chunkSizes, reps, repsLarge, clients: plainClients, log });
  log(`table 2: ${latencyMs} ms per response; sizes ${latencySizes.map(formatSize).join(", ")}`);
  const slow = await runTable({ latencyMs, sizes: latencySizes, chunkSizes, reps, repsLarge, clients: [...CLIENTS, ...parallelClients(partSize)], log });
  log(`table 3: ${latencyMs} ms per response; ${formatSize(smallSize)}, one request against two`);
  const small = await runTable({ latencyMs, sizes: [smallSize], chunkSizes, reps: smoke ? 1 : 5, repsLarge, clients: SMALL_CLIENTS, log });

  const command = `pnpm bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
  const text = [
    `Machine: ${machine()}`,
    `Date: ${started.toISOString()}; ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s in all; ` +
      `1-minute load average ${loadBefore.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end (anything else running skews the figures)`,
    `Command: \`${command}\` (at the repository root; \`node bench/src/run.mjs\` after \`pnpm build\` is the same)`,
    "",
    `### No added latency (median (min–max) of ${reps} runs; ${repsLarge} at 1 GiB and above)`,
    "",
    formatTable(plain),
    "",
    `### ${latencyMs} ms emulator latency per response`,
    "",
    formatTable(slow),
    "",
    `### Small objects: ${formatSize(smallSize)} at ${latencyMs} ms emulator latency per response (median (min–max) of ${smoke ? 1 : 5} runs)`,
    "",
    formatTable(small),
    "",
  ].join("\n");
  process.stdout.write(`\n${text}`);
  if (!smoke && !values["no-write"]) {
    const target = fileURLToPath(new URL("../../BENCHMARKS.md", here));
    let previous = "";
    try {
      previous = readFileSync(target, "utf8");
    } catch {
      // first run
    }
    // Keep everything above the generated section (the reading written by hand), replace the figures.
    const marker = "<!-- bench:results -->";
    const head = previous.includes(marker) ? previous.slice(0, previous.indexOf(marker)) : "# Benchmarks\n\n";
    writeFileSync(target, `${head}${marker}\n\n${text}`);
    log(`wrote ${target}`);
  }
  return { plain, slow, small };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
}
