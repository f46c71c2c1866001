// The soak: many seeded uploads through every adapter on main and the CLI, against one emulator, each with
// a random fault schedule (the whole vocabulary, aimed at request kinds and ordinals), a random size (0, 1,
// chunk multiples and their neighbours included), random write sizes, and now and then an abort (cancel or
// keep) or a kill followed by a resume. Every ending is checked against the bucket, never against the
// client's own word: a reported success must be the exact bytes, a reported failure must leave no complete
// object behind, and no upload may hang.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { startEmulator } from "@resumable-gcs/emulator";

const CHUNK = 256 * 1024;
/** The XML multipart upload's smallest part (GCS's rule): multipart plans use it, so 2–3 parts stay a few MiB. */
const PART = 5 * 1024 * 1024;
const BUCKET = "soak-bucket";

/** mulberry32: a small seeded generator; the same seed gives the same schedules, sizes and data. */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick(random, items) {
  return items[Math.floor(random() * items.length)];
}

function between(random, low, high) {
  return low + Math.floor(random() * (high - low + 1));
}

function bytesOf(random, size) {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) {
    const word = (random() * 4294967296) >>> 0;
    for (let j = 0; j < 4 && i + j < size; j += 1) data[i + j] = (word >>> (8 * j)) & 0xff;
  }
  return data;
}

/** Sizes that hit the protocol's edges: empty, one byte, exact chunk multiples and one either side. */
function sizeOf(random, chunkSize) {
  return pick(random, [
    () => 0,
    () => 1,
    () => chunkSize,
    () => chunkSize - 1,
    () => chunkSize + 1,
    () => between(random, 2, 6) * chunkSize,
    () => between(random, 2, 6) * chunkSize + between(random, 1, 1000),
    () => between(random, 2, 3 * 1024 * 1024),
  ])();
}

/**
 * A random fault list. Transient faults the client must survive come most often; terminal ones (a gone
 * session, a refused precondition) now and then, so typed failures are exercised too. Ordinals ascend, as
 * the emulator requires.
 */
export function faultSchedule(random) {
  const transient = [
    () => pick(random, ["return-408", "return-429", "return-500", "return-502", "return-503", "return-504"]),
    () => "return-reset-connection",
    () => `return-reset-connection-after-${between(random, 1, 600)}K`,
    () => `return-503-after-${between(random, 1, 600)}K`,
    () => `return-short-ack-${pick(random, [0, 256, 512])}K`,
    // A stall longer than the idle timeout below; rarer than the rest, since each costs seconds of waiting.
    () => (random() < 0.4 ? `stall-for-${between(random, 3200, 3600)}ms-after-${between(random, 0, 300)}K` : "return-503"),
    () => `return-broken-stream-final-chunk-after-${between(random, 0, 200)}B`,
    () => `return-truncated-body-final-chunk-after-${between(random, 1, 200)}B`,
    () => "return-broken-stream",
    () => `start:${pick(random, ["return-503", "return-reset-connection", "return-429"])}`,
    () => `query:${pick(random, ["return-503", "return-reset-connection", "return-500"])}`,
    () => `final:${pick(random, ["return-503", "return-reset-connection", "return-broken-stream-final-chunk-after-20B", "return-truncated-body-final-chunk-after-30B"])}`,
    () => `delete:${pick(random, ["return-503", "return-reset-connection"])}`,
  ];
  const terminal = [() => "chunk:return-410", () => "start:return-412", () => "chunk:return-400"];
  const faults = [];
  const count = pick(random, [0, 1, 1, 2, 2, 3, 4]);
  for (let i = 0; i < count; i += 1) faults.push(random() < 0.06 ? pick(random, terminal)() : pick(random, transient)());
  if (random() < 0.25) faults.push(`chunk#${between(random, 2, 4)}:return-reset-connection-after-${between(random, 1, 200)}K`);
  return faults;
}

/** One upload's plan, drawn from the seed. */
export function scenario(random, index, adapters) {
  const adapter = adapters[index % adapters.length];
  const chunkSize = pick(random, [CHUNK, CHUNK, 2 * CHUNK]);
  // One upload in five goes as an XML multipart upload (`parallelism`), with parts of the minimum size: the
  // same fault vocabulary lands on its initiate, parts, list, complete and abort requests.
  const parallelism = random() < 0.2 ? between(random, 1, 3) : undefined;
  const size = parallelism === undefined ? sizeOf(random, chunkSize) : sizeOf(random, PART);
  const roll = random();
  // kill-and-resume needs a session that holds bytes, so it goes to uploads of more than a chunk (or part).
  const action = roll < 0.1 ? "abort-cancel" : roll < 0.18 ? "abort-keep" : roll < 0.3 && size > (parallelism === undefined ? chunkSize : PART) ? "kill-resume" : "none";
  return {
    index,
    adapter: adapter.name,
    chunkSize,
    parallelism,
    size,
    source: random() < 0.5 ? "file" : "stream",
    faults: faultSchedule(random),
    action,
    // Where the abort or kill comes: anywhere, the very end included (a cancel racing the final request).
    at: size === 0 ? 0 : pick(random, [() => between(random, 0, size), () => size])(),
    // One-byte writes only for small sources: a few MiB of them measure the stream machinery, not the upload.
    maxWrite: pick(random, size <= 65_536 ? [1, 1000, 65_536] : [1000, 65_536, 300_000]),
    dataSeed: (random() * 4294967296) >>> 0,
    name: `soak-${index}-${adapter.name}.bin`,
  };
}

/** Pieces of random sizes up to `maxWrite`, the way a producer writes. */
function* pieces(data, start, maxWrite, random) {
  for (let offset = start; offset < data.length; ) {
    const n = Math.min(data.length - offset, 1 + Math.floor(random() * maxWrite));
    yield data.subarray(offset, offset + n);
    offset += n;
  }
}

/** A source that calls `onPassed` once it has handed out `at` bytes (then keeps going until stopped). */
function sourceOf(data, start, s, random, at, onPassed) {
  let given = start;
  let fired = false;
  async function* generate() {
    if (!fired && at !== undefined && given >= at) {
      fired = true;
      onPassed();
    }
    for (const piece of pieces(data, start, s.maxWrite, random)) {
      yield piece;
      given += piece.length;
      if (!fired && at !== undefined && given >= at) {
        fired = true;
        onPassed();
        // Let the abort land before more data is offered.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }
  return Readable.from(generate(), { objectMode: false, highWaterMark: 16 * 1024 });
}

function codeOf(error) {
  const code = error?.code;
  return typeof code === "string" && /^[a-z][a-z-]*$/.test(code) ? code : `untyped:${error?.name ?? typeof error}`;
}

const fastRetry = { initialDelayMs: 5, maxDelayMs: 50, maxAttempts: 12 };

/** The Node adapter: `createUploadStream` piped from a Readable; kill = abort with `onAbort: "keep"`, resume from the store. */
async function nodeAdapter() {
  const node = await import("@resumable-gcs/node");
  if (typeof node.createUploadStream !== "function") return undefined;
  // The flat option set (the upload layer's) when the adapter has it, else the nested one it replaced.
  const flat = node.NODE_OPTIONS !== undefined;
  const options = (s, ctx, extra) => {
    const transfer = {
      ...transferShape(s),
      extraHeaders: { "x-retry-test-id": ctx.retryTestId },
      ...(s.source === "file" ? { totalSize: s.size } : {}),
    };
    // Generous against a loaded machine (a spurious stall is only a retry), shorter than the stalls injected.
    const idleTimeoutMs = 3000;
    return flat
      ? { bucket: BUCKET, name: s.name, apiEndpoint: ctx.url, ...transfer, retry: fastRetry, idleTimeoutMs, ...extra }
      : { bucket: BUCKET, name: s.name, apiEndpoint: ctx.url, env: {}, upload: { ...transfer, retry: { ...fastRetry, idleTimeoutMs } }, ...extra };
  };
  const MemoryCheckpointStore = node.MemoryCheckpointStore ?? (await import("@resumable-gcs/core")).MemoryCheckpointStore;
  return {
    name: "node",
    async run(s, ctx) {
      const random = seededRandom(s.dataSeed ^ 0x5a5a);
      const store = new MemoryCheckpointStore();
      const lives = s.action === "kill-resume" ? 2 : 1;
      let checkpoint;
      for (let life = 0; life < lives; life += 1) {
        const last = life === lives - 1;
        const controller = new AbortController();
        const onAbort = !last || s.action === "abort-keep" ? "keep" : "cancel";
        const stream = node.createUploadStream(
          options(s, ctx, { checkpointStore: store, onAbort, signal: controller.signal, ...(checkpoint === undefined ? {} : { checkpoint }) }),
        );
        ctx.onCancel(() => controller.abort(new Error("soak: hang")));
        const stopAt = !last ? s.at : s.action === "abort-cancel" || s.action === "abort-keep" ? s.at : undefined;
        const source = sourceOf(ctx.data, stream.resumeOffset, s, random, stopAt, () => controller.abort(new Error("soak: abort")));
        try {
          await pipeline(source, stream);
          return { status: "ok", object: await stream.done };
        } catch (error) {
          const outcome = await stream.done.then((object) => ({ status: "ok", object }), (failure) => ({ status: "failed", code: codeOf(failure) }));
          if (outcome.status === "ok") return outcome;
          if (!last && controller.signal.aborted) {
            // The next life resumes from what the store kept, or starts afresh if the kill came before a session.
            checkpoint = await store.load();
            continue;
          }
          return outcome.code === undefined ? { status: "failed", code: codeOf(error) } : outcome;
        }
      }
      return { status: "failed", code: "untyped:no-life-left" };
    },
  };
}

/** Chunks of a resumable session, or parts in flight of a multipart upload. */
function transferShape(s) {
  return s.parallelism === undefined ? { chunkSize: s.chunkSize } : { parallelism: s.parallelism, partSize: PART };
}

/** Offset a checkpoint says GCS holds: either session checkpoint version, or a multipart one (its resume point). */
function offsetOf(checkpoint, core) {
  if (checkpoint === undefined) return 0;
  if (checkpoint.kind === "xml-multipart") return core.resumePointOf(checkpoint).resumeOffset;
  return checkpoint.resumeOffset ?? checkpoint.persisted ?? 0;
}

/** The flat option set every adapter of the upload layer takes. */
function flatOptions(s, ctx, extra) {
  return {
    bucket: BUCKET,
    name: s.name,
    apiEndpoint: ctx.url,
    ...transferShape(s),
    extraHeaders: { "x-retry-test-id": ctx.retryTestId },
    ...(s.source === "file" ? { totalSize: s.size } : {}),
    retry: fastRetry,
    idleTimeoutMs: 3000,
    ...extra,
  };
}

/**
 * Lives of one upload: a kill (abort with `onAbort: "keep"`) is followed by a resume from the store; the last
 * life runs to its end, or to the planned abort. `start(life)` returns `{ offset, finish(source) }`.
 */
async function lives(s, ctx, store, start) {
  const count = s.action === "kill-resume" ? 2 : 1;
  let checkpoint;
  for (let life = 0; life < count; life += 1) {
    const last = life === count - 1;
    const controller = new AbortController();
    ctx.onCancel(() => controller.abort(new Error("soak: hang")));
    const onAbort = !last || s.action === "abort-keep" ? "keep" : "cancel";
    const stopAt = !last || s.action === "abort-cancel" || s.action === "abort-keep" ? s.at : undefined;
    const outcome = await start({ checkpoint, onAbort, signal: controller.signal, store, stopAt, abort: () => controller.abort(new Error("soak: abort")) });
    if (outcome.status === "ok" || last || !controller.signal.aborted) return outcome;
    checkpoint = await store.load();
  }
  return { status: "failed", code: "untyped:no-life-left" };
}

/** The iterable adapter: `upload(source, options)` with Node's runtime. */
async function iterAdapter() {
  const iter = await import("@resumable-gcs/iter");
  if (typeof iter.upload !== "function") return undefined;
  const core = await import("@resumable-gcs/core");
  const node = await import("@resumable-gcs/node");
  return {
    name: "iter",
    async run(s, ctx) {
      const random = seededRandom(s.dataSeed ^ 0x3c3c);
      return lives(s, ctx, new core.MemoryCheckpointStore(), async ({ checkpoint, onAbort, signal, store, stopAt, abort }) => {
        const source = sourceOf(ctx.data, offsetOf(checkpoint, core), s, random, stopAt, abort);
        const options = flatOptions(s, ctx, { checkpointStore: store, onAbort, signal, ...(checkpoint === undefined ? {} : { checkpoint }), ...(node.nodeRuntime === undefined ? {} : { runtime: node.nodeRuntime }) });
        return iter.upload(source, options).then((object) => ({ status: "ok", object }), (error) => ({ status: "failed", code: codeOf(error) }));
      });
    },
  };
}

/** The Web Streams adapter on Node's global fetch: a WritableStream written piece by piece. */
async function webAdapter() {
  const web = await import("@resumable-gcs/web");
  if (typeof web.createUploadStream !== "function") return undefined;
  const core = await import("@resumable-gcs/core");
  return {
    name: "web",
    async run(s, ctx) {
      const random = seededRandom(s.dataSeed ^ 0xc3c3);
      return lives(s, ctx, new core.MemoryCheckpointStore(), async ({ checkpoint, onAbort, signal, store, stopAt, abort }) => {
        const stream = web.createUploadStream(flatOptions(s, ctx, { checkpointStore: store, onAbort, signal, ...(checkpoint === undefined ? {} : { checkpoint }) }));
        const writer = stream.getWriter();
        try {
          for await (const piece of sourceOf(ctx.data, stream.resumeOffset, s, random, stopAt, abort)) await writer.write(new Uint8Array(piece));
          await writer.close();
        } catch {
          // the outcome is what `done` says
        }
        return stream.done.then((object) => ({ status: "ok", object }), (error) => ({ status: "failed", code: codeOf(error) }));
      });
    },
  };
}

/** The CLI, in-process (`runCli`) and, for kill-and-resume, as a real process killed with SIGKILL. */
async function cliAdapter(workdir) {
  const cli = await import("@resumable-gcs/cli");
  if (typeof cli.runCli !== "function") return undefined;
  const bin = join(dirname(createRequire(import.meta.url).resolve("@resumable-gcs/cli/package.json")), "dist", "bin.js");
  return {
    name: "cli",
    async run(s, ctx) {
      const random = seededRandom(s.dataSeed ^ 0xa5a5);
      const file = join(workdir, s.name);
      if (s.source === "file") await writeFile(file, ctx.data);
      const state = join(workdir, `${s.name}.state`);
      const args = [s.source === "file" ? file : "-", `gs://${BUCKET}/${s.name}`, "--endpoint", ctx.url, ...(s.parallelism === undefined ? ["--chunk-size", String(s.chunkSize)] : ["--parallel", String(s.parallelism), "--part-size", String(PART)]), "--header", `x-retry-test-id:${ctx.retryTestId}`, "--json"];
      const resumable = s.action === "kill-resume" || s.action === "abort-keep";
      if (resumable) args.push("--resume", state);

      if (s.action === "kill-resume") {
        // A real crash: the process dies with no chance to cancel or save anything more.
        const child = spawn(process.execPath, [bin, ...args, "--quiet"], { stdio: ["pipe", "ignore", "ignore"], env: { PATH: process.env["PATH"] ?? "" } });
        ctx.onCancel(() => child.kill("SIGKILL"));
        const exited = new Promise((resolve) => child.on("close", resolve));
        child.stdin.on("error", () => undefined);
        if (s.source === "stream") child.stdin.end(ctx.data);
        else child.stdin.end();
        const deadline = Date.now() + 15_000;
        while (child.exitCode === null && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          const saved = await readFile(state, "utf8").then((text) => JSON.parse(text), () => undefined);
          if ((saved?.resumeOffset ?? saved?.persisted ?? 0) > 0 || (saved?.parts?.length ?? 0) > 0) break;
        }
        child.kill("SIGKILL");
        await exited;
      }

      const controller = new AbortController();
      ctx.onCancel(() => controller.abort(new Error("soak: hang")));
      const stopAt = s.action === "abort-cancel" || s.action === "abort-keep" ? s.at : undefined;
      const stdin = s.source === "stream" ? sourceOf(ctx.data, 0, s, random, stopAt, () => controller.abort()) : Readable.from([]);
      if (s.source === "file" && stopAt !== undefined) {
        // A file is read by the CLI itself: interrupt after a delay scaled to where the abort should come.
        setTimeout(() => controller.abort(), Math.floor((stopAt / Math.max(1, s.size)) * 200));
      }
      const stdout = new PassThrough();
      let out = "";
      stdout.on("data", (d) => (out += d));
      const code = await cli.runCli(args, { stdin, stdout, stderr: new PassThrough().resume(), env: {}, isTTY: false, signal: controller.signal });
      const line = out.trim().split("\n").at(-1);
      const json = line === undefined || line === "" ? undefined : JSON.parse(line);
      if (code === 0 && json?.ok === true) return { status: "ok", object: { size: String(json.size), crc32c: json.crc32c } };
      return { status: "failed", code: json?.code ?? `untyped:exit-${code}` };
    },
  };
}

/** Every adapter on main that the soak knows how to drive. */
async function adaptersAvailable(workdir) {
  return (await Promise.all([nodeAdapter(), webAdapter(), iterAdapter(), cliAdapter(workdir)])).filter((adapter) => adapter !== undefined);
}

/**
 * Runs `uploads` seeded uploads (or fewer, when `timeLimitMs` runs out first) and returns the tallies.
 * @param {{ uploads?: number, seed?: number, timeLimitMs?: number, hangMs?: number, concurrency?: number, only?: number[], onUpload?: (line: string) => void }} [options]
 */
export async function runSoak(options = {}) {
  const uploads = options.uploads ?? 300;
  const seed = options.seed ?? 1;
  const timeLimitMs = options.timeLimitMs ?? 10 * 60_000;
  const hangMs = options.hangMs ?? 90_000;
  const concurrency = options.concurrency ?? 4;
  const started = Date.now();
  const workdir = await mkdtemp(join(tmpdir(), "rgcs-soak-"));
  const gcs = await startEmulator({ buckets: [BUCKET], storage: "memory" });
  const adapters = await adaptersAvailable(workdir);
  const random = seededRandom(seed);
  // Plans are drawn for every index, so `only` replays exactly the uploads a full run made.
  const plans = Array.from({ length: uploads }, (_, index) => scenario(random, index, adapters))
    .filter((plan) => options.only === undefined || options.only.includes(plan.index));
  const rows = new Map(adapters.map((adapter) => [adapter.name, { adapter: adapter.name, uploads: 0, faultsRegistered: 0, faultsConsumed: 0, byteExact: 0, failures: {}, wrongObjects: 0, hangs: 0, contradictions: 0, notes: [] }]));
  let next = 0;
  let stoppedEarly = false;

  async function one(s) {
    const adapter = adapters.find((a) => a.name === s.adapter);
    const row = rows.get(s.adapter);
    const data = bytesOf(seededRandom(s.dataSeed), s.size);
    const retryTestId = gcs.registerFaults({ "storage.objects.insert": s.faults });
    const cancels = [];
    const ctx = { url: gcs.url, data, retryTestId, onCancel: (fn) => cancels.push(fn) };
    let timer;
    const hang = new Promise((resolve) => {
      timer = setTimeout(() => resolve({ status: "hang" }), hangMs);
    });
    let report;
    try {
      report = await Promise.race([adapter.run(s, ctx), hang]);
    } catch (error) {
      report = { status: "failed", code: `untyped:throw:${codeOf(error)}` };
    } finally {
      clearTimeout(timer);
    }
    if (report.status === "hang") for (const cancel of cancels) cancel();

    const retryTest = gcs.getRetryTest(retryTestId);
    row.uploads += 1;
    row.faultsRegistered += s.faults.length;
    row.faultsConsumed += Object.values(retryTest?.consumed ?? {}).reduce((n, list) => n + list.length, 0);
    const object = gcs.getObject(BUCKET, s.name);
    const exact = object?.data !== undefined && Buffer.from(object.data).equals(data);
    const describe = `#${s.index} ${s.adapter} size=${s.size} ${s.parallelism === undefined ? `chunk=${s.chunkSize}` : `parallel=${s.parallelism}`} ${s.source} ${s.action}@${s.at} faults=[${s.faults.join(",")}]`;
    if (object !== undefined && !exact) {
      row.wrongObjects += 1;
      row.notes.push(`WRONG OBJECT ${describe}: stored ${object.size} bytes`);
    }
    if (report.status === "hang") {
      row.hangs += 1;
      row.notes.push(`HANG ${describe}`);
    } else if (report.status === "ok") {
      if (exact && Number(report.object.size) === s.size) row.byteExact += 1;
      else {
        row.contradictions += 1;
        row.notes.push(`SUCCESS WITHOUT THE OBJECT ${describe}: bucket has ${object === undefined ? "nothing" : `${object.size} bytes`}`);
      }
    } else {
      row.failures[report.code] = (row.failures[report.code] ?? 0) + 1;
      if (exact) {
        row.contradictions += 1;
        row.notes.push(`FAILURE ABOUT A COMPLETE OBJECT ${describe}: reported ${report.code}`);
      }
    }
    options.onUpload?.(`${describe} -> ${report.status === "failed" ? report.code : report.status}`);
  }

  async function worker() {
    while (next < plans.length) {
      if (Date.now() - started > timeLimitMs) {
        stoppedEarly = true;
        return;
      }
      const s = plans[next];
      next += 1;
      await one(s);
    }
  }
  try {
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
  } finally {
    await gcs.stop();
    await rm(workdir, { recursive: true, force: true });
  }
  const list = [...rows.values()];
  const total = list.reduce(
    (sum, row) => {
      for (const key of ["uploads", "faultsRegistered", "faultsConsumed", "byteExact", "wrongObjects", "hangs", "contradictions"]) sum[key] += row[key];
      for (const [code, n] of Object.entries(row.failures)) sum.failures[code] = (sum.failures[code] ?? 0) + n;
      sum.notes.push(...row.notes);
      return sum;
    },
    { adapter: "total", uploads: 0, faultsRegistered: 0, faultsConsumed: 0, byteExact: 0, failures: {}, wrongObjects: 0, hangs: 0, contradictions: 0, notes: [] },
  );
  const untyped = Object.entries(total.failures).filter(([code]) => code.startsWith("untyped")).reduce((n, [, count]) => n + count, 0);
  return {
    seed,
    planned: uploads,
    elapsedMs: Date.now() - started,
    stoppedEarly,
    rows: list,
    total,
    ok: total.wrongObjects === 0 && total.hangs === 0 && total.contradictions === 0 && untyped === 0,
  };
}

/** The one table the soak prints. */
export function formatTable(result) {
  const header = ["adapter", "uploads", "faults consumed", "byte-exact", "typed failures by code", "wrong objects", "hangs", "contradicting reports"];
  const line = (row) => [
    row.adapter,
    String(row.uploads),
    `${row.faultsConsumed}/${row.faultsRegistered}`,
    String(row.byteExact),
    Object.entries(row.failures).sort(([a], [b]) => a.localeCompare(b)).map(([code, n]) => `${code} ${n}`).join(", ") || "-",
    String(row.wrongObjects),
    String(row.hangs),
    String(row.contradictions),
  ];
  const table = [header, ...result.rows.map(line), line(result.total)];
  const cells = table.map((row) => `| ${row.join(" | ")} |`);
  cells.splice(1, 0, `| ${header.map(() => "---").join(" | ")} |`);
  const summary = `seed ${result.seed}: ${result.total.uploads} of ${result.planned} uploads in ${(result.elapsedMs / 1000).toFixed(0)}s${result.stoppedEarly ? " (time limit reached)" : ""}`;
  return [summary, ...cells, ...result.total.notes].join("\n");
}

