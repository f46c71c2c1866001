// runCli in-process against emulators started here: stdin resume, --finalize, --gzip, gone sessions and the
// uniform bad-input codes. In-process keeps these fast; cli.test.ts covers the built binary end to end.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { gunzipSync } from "node:zlib";
import { crc32c } from "@node-rs/crc32";
import { startEmulator, type Emulator } from "@resumable-gcs/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./cli.js";
import { crc32cBase64 } from "./crc.js";

const BUCKET = "cli-resume-bucket";
const CHUNK = 256 * 1024;

let gcs: Emulator;
let log: string[];
let dir: string;

beforeAll(async () => {
  log = [];
  // Latency gives an interrupt time to land between chunks, however fast the machine.
  gcs = await startEmulator({ buckets: [BUCKET], latencyMs: 25, logger: (line) => log.push(line) });
  dir = await mkdtemp(join(tmpdir(), "gcs-upload-resume-"));
});

afterAll(async () => {
  await gcs.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Feeds `data` in 64 KiB pieces, the way a pipe delivers it. */
function stdinOf(data: Buffer): Readable {
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += 65_536) pieces.push(data.subarray(i, i + 65_536));
  return Readable.from(pieces);
}

async function cli(argv: string[], options: { stdin?: Buffer; signal?: AbortSignal; env?: Record<string, string> } = {}): Promise<Result> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d: Buffer) => (out += d.toString()));
  stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await runCli(argv, {
    stdin: stdinOf(options.stdin ?? Buffer.alloc(0)),
    stdout,
    stderr,
    env: options.env ?? {},
    isTTY: false,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return { code, stdout: out, stderr: err };
}

/** The offset a state file records (either checkpoint version), 0 when it is not there yet. */
async function savedOffset(state: string): Promise<number> {
  try {
    const saved = JSON.parse(await readFile(state, "utf8")) as { resumeOffset?: number; persisted?: number };
    return saved.resumeOffset ?? saved.persisted ?? 0;
  } catch {
    return 0;
  }
}

/** Runs an upload and interrupts it (Ctrl-C) once its state file records persisted bytes. */
async function interrupted(argv: string[], state: string, stdin?: Buffer): Promise<{ result: Result; offset: number }> {
  const controller = new AbortController();
  const running = cli(argv, { ...(stdin === undefined ? {} : { stdin }), signal: controller.signal });
  let offset = 0;
  const deadline = Date.now() + 20_000;
  while (offset === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    offset = await savedOffset(state);
  }
  controller.abort(new Error("interrupted"));
  const result = await running;
  return { result, offset: await savedOffset(state) };
}

const target = (name: string): string[] => [`gs://${BUCKET}/${name}`, "--endpoint", gcs.url, "--chunk-size", "256KiB"];

describe("--resume with stdin", () => {
  it("accepts the same data piped again: checks the persisted prefix's CRC32C, skips it, continues", async () => {
    const data = randomBytes(12 * CHUNK + 999);
    const state = join(dir, "stdin-same.state");
    const first = await interrupted(["-", ...target("stdin-same.bin"), "--resume", state], state, data);
    expect(first.result.code).toBe(130);
    expect(first.result.stderr).toContain("pipe the same data again");
    expect(first.offset).toBeGreaterThan(0);
    expect(first.offset).toBeLessThan(data.length);

    const before = log.length;
    const second = await cli(["-", ...target("stdin-same.bin"), "--resume", state, "--json"], { stdin: data });
    expect(second.stderr).toBe("");
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout) as unknown).toMatchObject({ ok: true, size: data.length, crc32c: crc32cBase64(crc32c(data)) });
    expect(Buffer.from(gcs.getObject(BUCKET, "stdin-same.bin")!.data!).equals(data)).toBe(true);
    // The persisted prefix was skipped, not sent again: no request starts at byte 0 after the resume.
    const resumedPuts = log.slice(before).filter((line) => line.includes("PUT") && /bytes 0-/.test(line));
    expect(resumedPuts).toEqual([]);
    expect(existsSync(state)).toBe(false);
  });

  it("refuses different data with source-mismatch, exit 2, nothing sent", async () => {
    const data = randomBytes(12 * CHUNK);
    const state = join(dir, "stdin-other.state");
    const first = await interrupted(["-", ...target("stdin-other.bin"), "--resume", state], state, data);
    expect(first.result.code).toBe(130);
    const other = Buffer.from(data);
    other[10] = other[10]! ^ 0xff;
    const before = log.length;
    const second = await cli(["-", ...target("stdin-other.bin"), "--resume", state, "--json"], { stdin: other });
    expect(second.code).toBe(2);
    expect(JSON.parse(second.stdout) as unknown).toMatchObject({ ok: false, code: "source-mismatch" });
    expect(second.stderr).toMatch(/^gcs-upload: source-mismatch: the saved session holds .* and stdin differs from them; nothing was sent — /m);
    expect(log.slice(before)).toEqual([]);
    // Shorter data is refused the same way.
    const short = await cli(["-", ...target("stdin-other.bin"), "--resume", state], { stdin: data.subarray(0, 1000) });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain("ends after");
    expect(existsSync(state)).toBe(true);
  });
});

describe("--finalize STATE", () => {
  it("commits exactly the bytes the session holds, prints them, clears the state file, exit 0", async () => {
    const data = randomBytes(12 * CHUNK + 5);
    const state = join(dir, "finalize.state");
    const first = await interrupted(["-", ...target("salvaged.log"), "--resume", state], state, data);
    expect(first.result.code).toBe(130);
    const held = first.offset;
    expect(held % CHUNK).toBe(0);

    const result = await cli(["--finalize", state, "--endpoint", gcs.url, "--json"]);
    expect(result.code).toBe(0);
    // GCS may hold more than the state file last recorded (the interrupt came mid-chunk): all of it is kept.
    const object = gcs.getObject(BUCKET, "salvaged.log")!;
    expect(object.size).toBeGreaterThanOrEqual(held);
    expect(object.size).toBeLessThan(data.length);
    expect(Buffer.from(object.data!).equals(data.subarray(0, object.size))).toBe(true);
    expect(JSON.parse(result.stdout) as unknown).toMatchObject({
      ok: true,
      finalized: true,
      size: object.size,
      crc32c: crc32cBase64(crc32c(data.subarray(0, object.size))),
      crc32cCheck: object.size === held ? "match" : "unchecked",
    });
    expect(existsSync(state)).toBe(false);

    const human = await cli(["--finalize", state, "--endpoint", gcs.url]);
    expect(human.code).toBe(2);
    expect(human.stderr).toMatch(/^gcs-upload: invalid-argument: state file .* does not exist/m);
  });

  it("says so when the session was already final", async () => {
    const state = join(dir, "final-twice.state");
    const data = randomBytes(8 * CHUNK);
    const first = await interrupted(["-", ...target("final-twice.log"), "--resume", state], state, data);
    expect(first.result.code).toBe(130);
    const copy = await readFile(state, "utf8");
    expect((await cli(["--finalize", state, "--endpoint", gcs.url, "--quiet"])).code).toBe(0);
    await writeFile(state, copy);
    const again = await cli(["--finalize", state, "--endpoint", gcs.url]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("was already final");
  });

  it("refuses a state file whose session is on another endpoint (exit 2, nothing sent)", async () => {
    const state = join(dir, "foreign.state");
    const data = randomBytes(8 * CHUNK);
    await interrupted(["-", ...target("foreign.log"), "--resume", state], state, data);
    const before = log.length;
    const result = await cli(["--finalize", state, "--endpoint", "http://127.0.0.1:9"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^gcs-upload: untrusted-session-uri: /m);
    expect(log.slice(before)).toEqual([]);
  });
});

describe("--gzip", () => {
  it("stores gzip bytes with contentEncoding gzip; the CRC32C check covers what GCS stores", async () => {
    const data = Buffer.from("build log line\n".repeat(50_000));
    const file = join(dir, "build.log");
    await writeFile(file, data);
    const result = await cli([file, ...target("build.log.gz"), "--gzip", "--json"]);
    expect(result.code).toBe(0);
    const object = gcs.getObject(BUCKET, "build.log.gz")!;
    expect(object.resource["contentEncoding"]).toBe("gzip");
    const stored = Buffer.from(object.data!);
    expect(gunzipSync(stored).equals(data)).toBe(true);
    expect(stored.length).toBeLessThan(data.length / 10);
    expect(JSON.parse(result.stdout) as unknown).toMatchObject({ ok: true, size: stored.length, localSize: stored.length, crc32c: crc32cBase64(crc32c(stored)), contentEncoding: "gzip" });
  });

  it("resumes a gzip upload from stdin: recompresses, proves the persisted prefix, continues", async () => {
    const data = randomBytes(10 * CHUNK);
    const state = join(dir, "gzip.state");
    const first = await interrupted(["-", ...target("resumed.gz"), "--gzip", "--resume", state], state, data);
    expect(first.result.code).toBe(130);
    expect(first.offset).toBeGreaterThan(0);
    const second = await cli(["-", ...target("resumed.gz"), "--gzip", "--resume", state], { stdin: data });
    expect(second.code).toBe(0);
    expect(gunzipSync(Buffer.from(gcs.getObject(BUCKET, "resumed.gz")!.data!)).equals(data)).toBe(true);
  });
});

describe("a saved session that GCS already finalized", () => {
  it("is verified against the source and reported as success; the state file is cleared", async () => {
    const data = randomBytes(10 * CHUNK + 77);
    const file = join(dir, "already-final.bin");
    await writeFile(file, data);
    const state = join(dir, "already-final.state");
    const args = [file, ...target("already-final.bin"), "--resume", state];
    // Keep a copy of a mid-upload checkpoint: what a process killed after the final request left behind.
    const running = cli(args);
    let copy: string | undefined;
    while (copy === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if ((await savedOffset(state)) > 0) copy = await readFile(state, "utf8").catch(() => undefined);
    }
    expect((await running).code).toBe(0);
    const generation = gcs.getObject(BUCKET, "already-final.bin")!.generation;
    await writeFile(state, copy);

    const rerun = await cli([...args, "--json"]);
    expect(rerun.code, rerun.stderr + rerun.stdout).toBe(0);
    expect(rerun.stderr).toBe("");
    expect(JSON.parse(rerun.stdout) as unknown).toMatchObject({ ok: true, size: data.length, crc32c: crc32cBase64(crc32c(data)), generation });
    expect(existsSync(state)).toBe(false);
    expect(gcs.getObject(BUCKET, "already-final.bin")!.generation).toBe(generation);
  });
});

describe("a Ctrl-C that races the final request", () => {
  it.each([
    ["without --resume (cancel)", false],
    ["with --resume (keep)", true],
  ])("%s: the object committed, so the CLI reports it, exit 0", async (_name, resume) => {
    // The emulator commits, then waits before answering: the interrupt lands in that window.
    const slow = await startEmulator({ buckets: [BUCKET], latencyMs: 400 });
    try {
      const data = randomBytes(100_000);
      const name = `late-${String(resume)}.bin`;
      const state = join(dir, `${name}.state`);
      const controller = new AbortController();
      const running = cli(["-", `gs://${BUCKET}/${name}`, "--endpoint", slow.url, "--json", ...(resume ? ["--resume", state] : [])], { stdin: data, signal: controller.signal });
      const deadline = Date.now() + 20_000;
      while (slow.getObject(BUCKET, name) === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
      controller.abort(new Error("interrupted"));
      const result = await running;
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout) as unknown).toMatchObject({ ok: true, interruptedAfterCommit: true, size: data.length, crc32c: crc32cBase64(crc32c(data)) });
      expect(Buffer.from(slow.getObject(BUCKET, name)!.data!).equals(data)).toBe(true);
      expect(existsSync(state)).toBe(false);
    } finally {
      await slow.stop();
    }
  });
});

describe("--header", () => {
  it("sends the header on every request: an emulator's faults aimed with x-retry-test-id are consumed", async () => {
    const id = gcs.registerFaults({ "storage.objects.insert": ["start:return-503", "chunk#2:return-reset-connection"] });
    const data = randomBytes(3 * CHUNK + 1);
    const result = await cli(["-", ...target("with-header.bin"), "--header", `x-retry-test-id: ${id}`], { stdin: data });
    expect(result.code).toBe(0);
    expect(gcs.getRetryTest(id)?.completed).toBe(true);
    expect(Buffer.from(gcs.getObject(BUCKET, "with-header.bin")!.data!).equals(data)).toBe(true);
  }, 30_000);
});

describe("a gone session", () => {
  /** Interrupts an upload with --resume, then deletes its session on the server, as expiry would. */
  async function goneSession(name: string, source: string, stdin?: Buffer): Promise<string> {
    const state = join(dir, `${name}.state`);
    const first = await interrupted([source, ...target(name), "--resume", state], state, stdin);
    expect(first.result.code).toBe(130);
    const { sessionUri } = JSON.parse(await readFile(state, "utf8")) as { sessionUri: string };
    const deleted = await fetch(sessionUri, { method: "DELETE" });
    expect(deleted.status).toBe(499);
    return state;
  }

  it("restarts a file source from byte 0 with a new session, saying so on stderr", async () => {
    const data = randomBytes(10 * CHUNK + 3);
    const file = join(dir, "gone.bin");
    await writeFile(file, data);
    const state = await goneSession("gone.bin", file);
    const result = await cli([file, ...target("gone.bin"), "--resume", state]);
    expect(result.stderr).toContain("starting over from byte 0 with a new session");
    expect(result.code).toBe(0);
    expect(Buffer.from(gcs.getObject(BUCKET, "gone.bin")!.data!).equals(data)).toBe(true);
    expect(existsSync(state)).toBe(false);
  });

  it("with stdin: fails, and sets the state file aside so the next run starts clean", async () => {
    const data = randomBytes(10 * CHUNK);
    const state = await goneSession("gone-stdin.bin", "-", data);
    const result = await cli(["-", ...target("gone-stdin.bin"), "--resume", state], { stdin: data });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^gcs-upload: session-expired: .*the state file was set aside as .*gone-stdin\.bin\.state\.gone-/m);
    expect(existsSync(state)).toBe(false);
    expect((await readdir(dir)).some((f) => f.startsWith("gone-stdin.bin.state.gone-"))).toBe(true);
    const next = await cli(["-", ...target("gone-stdin.bin"), "--resume", state], { stdin: data });
    expect(next.code, next.stderr).toBe(0);
    expect(Buffer.from(gcs.getObject(BUCKET, "gone-stdin.bin")!.data!).equals(data)).toBe(true);
  });
});

describe("bad input: invalid-argument (or a documented code), exit 2, nothing sent", () => {
  it.each([
    ["a state path that is a directory", async () => ["-", `gs://${BUCKET}/x`, "--endpoint", gcs.url, "--resume", await mkdir(join(dir, "a-dir"), { recursive: true }).then(() => join(dir, "a-dir"))], "invalid-argument", /is not a regular file/],
    ["an invalid bucket with --local", () => ["-", "gs://No_Such/x", "--local"], "invalid-argument", /invalid bucket "No_Such"/],
    ["an invalid object name", () => ["-", `gs://${BUCKET}/..`, "--endpoint", gcs.url], "invalid-argument", /invalid object name/],
    ["an endpoint that is not a URL", () => ["-", `gs://${BUCKET}/x`, "--endpoint", "storage"], "invalid-argument", /--endpoint must be an absolute URL/],
    ["plain http to a non-loopback endpoint", () => ["-", `gs://${BUCKET}/x`, "--endpoint", "http://storage.example.com"], "invalid-argument", /plain http/],
    ["a source that is a directory", () => [dir, `gs://${BUCKET}/x`, "--endpoint", gcs.url], "invalid-argument", /is not a regular file/],
    ["a missing source file", () => [join(dir, "nope.bin"), `gs://${BUCKET}/x`, "--endpoint", gcs.url], "invalid-argument", /cannot read/],
    ["a state file that is not JSON", async () => {
      await writeFile(join(dir, "broken.state"), "{ not json");
      return ["-", `gs://${BUCKET}/x`, "--endpoint", gcs.url, "--resume", join(dir, "broken.state")];
    }, "invalid-checkpoint", /not valid JSON/],
    ["a state file that is not a checkpoint", async () => {
      await writeFile(join(dir, "foreign.json"), JSON.stringify({ version: 1, persisted: 262_144 }));
      return ["-", `gs://${BUCKET}/x`, "--endpoint", gcs.url, "--resume", join(dir, "foreign.json")];
    }, "invalid-checkpoint", /state file/],
    ["an unknown flag", () => ["--frobnicate", "-", `gs://${BUCKET}/x`], "invalid-argument", /Unknown option/],
    ["a header the protocol owns", () => ["-", `gs://${BUCKET}/x`, "--endpoint", gcs.url, "--header", "Content-Range: bytes 0-1/2"], "invalid-argument", /content-range/i],
    ["a header that is not NAME:VALUE", () => ["-", `gs://${BUCKET}/x`, "--endpoint", gcs.url, "--header", "novalue"], "invalid-argument", /--header takes NAME:VALUE/],
    ["--finalize with a destination", () => ["--finalize", "x.state", "-", `gs://${BUCKET}/x`], "invalid-argument", /--finalize STATE_FILE takes no source/],
  ])("%s", async (_name, argv, code, message) => {
    const args = await argv();
    const before = log.length;
    const result = await cli([...args, "--json"]);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout.trim().split("\n").at(-1)!) as unknown).toMatchObject({ ok: false, code });
    expect(result.stderr).toMatch(new RegExp(`^gcs-upload: ${code}: `, "m"));
    expect(result.stderr).toMatch(message);
    expect(log.slice(before)).toEqual([]);
  });
});
