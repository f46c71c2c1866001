// runCli in-process with --parallel / --part-size against an emulator started here: per-part faults,
// an interrupted parallel upload resumed from its state file, the state-file kind checks and the
// flag refusals (exit 2, nothing sent).
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { crc32c } from "@node-rs/crc32";
import { startEmulator, type Emulator } from "@resumable-gcs/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./cli.js";
import { crc32cBase64 } from "./crc.js";

const BUCKET = "cli-parallel-bucket";
const MIB = 1024 * 1024;
const PART = 5 * MIB;

let gcs: Emulator;
let log: string[];
let dir: string;

beforeAll(async () => {
  log = [];
  gcs = await startEmulator({ buckets: [BUCKET], latencyMs: 10, logger: (line) => log.push(line) });
  dir = await mkdtemp(join(tmpdir(), "gcs-upload-parallel-"));
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

async function cli(argv: string[], options: { stdin?: Buffer; signal?: AbortSignal } = {}): Promise<Result> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d: Buffer) => (out += d.toString()));
  stderr.on("data", (d: Buffer) => (err += d.toString()));
  const data = options.stdin ?? Buffer.alloc(0);
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += 65_536) pieces.push(data.subarray(i, i + 65_536));
  const code = await runCli(argv, { stdin: Readable.from(pieces), stdout, stderr, env: {}, isTTY: false, ...(options.signal === undefined ? {} : { signal: options.signal }) });
  return { code, stdout: out, stderr: err };
}

const target = (name: string): string[] => [`gs://${BUCKET}/${name}`, "--endpoint", gcs.url];

/** Part numbers the emulator answered 200 for `name`, from `from` on in the log. */
function partsPut(name: string, from = 0): number[] {
  const pattern = new RegExp(`^PUT /${BUCKET}/${name.replace(/\./g, "\\.")}\\?partNumber=(\\d+)&\\S* -> 200`);
  return log
    .slice(from)
    .map((line) => pattern.exec(line)?.[1])
    .filter((n) => n !== undefined)
    .map(Number);
}

/**
 * Requests a run of the CLI itself sent since `from`: any but part PUTs (a part the interrupted run had
 * in flight may still be answered, and logged, after that run returned). A resumed or refused run would
 * begin with the list GET (or an initiate POST), so none of these means nothing was sent.
 */
function ownRequests(from: number): string[] {
  return log.slice(from).filter((line) => !/^PUT \S+\?partNumber=/.test(line));
}

/** The number of completed parts the state file records, -1 when there is none (or not a multipart one). */
async function savedParts(state: string): Promise<number> {
  try {
    const saved = JSON.parse(await readFile(state, "utf8")) as { kind?: string; parts?: unknown[] };
    return saved.kind === "xml-multipart" ? (saved.parts?.length ?? 0) : -1;
  } catch {
    return -1;
  }
}

describe("--parallel", () => {
  it("uploads a file with parts in flight, a part retried alone after a 503 and a reset; the CRC32C check matches", async () => {
    const data = randomBytes(3 * PART + 4321);
    const file = join(dir, "faults.bin");
    await writeFile(file, data);
    const id = gcs.registerFaults({ "storage.objects.insert": ["mp-part#1:return-503", "mp-part#3:return-reset-connection-after-256K"] });
    const before = log.length;
    const result = await cli([file, ...target("faults.bin"), "--parallel", "2", "--part-size", "5MiB", "--header", `x-retry-test-id: ${id}`, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout) as unknown).toMatchObject({ ok: true, size: data.length, crc32c: crc32cBase64(crc32c(data)), localCrc32c: crc32cBase64(crc32c(data)) });
    expect(Buffer.from(gcs.getObject(BUCKET, "faults.bin")!.data!).equals(data)).toBe(true);
    expect(gcs.getRetryTest(id)?.completed).toBe(true);
    expect(partsPut("faults.bin", before).sort()).toEqual([1, 2, 3, 4]);
    expect(gcs.listMultipartUploads(BUCKET)).toEqual([]);
  }, 30_000);

  it("prints a retry line naming the reason when a part is retried (plain mode)", async () => {
    const id = gcs.registerFaults({ "storage.objects.insert": ["mp-part#2:return-503"] });
    const data = randomBytes(2 * PART + 1);
    const result = await cli(["-", ...target("stdin-parallel.bin"), "--parallel", "3", "--header", `x-retry-test-id: ${id}`, "--part-size", "5MiB"], { stdin: data });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/gcs-upload: retry 1 in /);
    expect(Buffer.from(gcs.getObject(BUCKET, "stdin-parallel.bin")!.data!).equals(data)).toBe(true);
  }, 30_000);

  it("an interrupted parallel upload with --resume keeps the multipart upload; the same command continues it without resending its parts", async () => {
    const data = randomBytes(5 * PART + 99);
    const file = join(dir, "resume.bin");
    await writeFile(file, data);
    const state = join(dir, "resume.state");
    // Part 4 stalls for 3 s, so the interrupt surely lands mid-upload, after parts are in the state file.
    const id = gcs.registerFaults({ "storage.objects.insert": ["mp-part#4:stall-for-3s-after-0K"] });
    const argv = [file, ...target("resume.bin"), "--parallel", "2", "--part-size", "5MiB", "--resume", state];
    const controller = new AbortController();
    const running = cli([...argv, "--header", `x-retry-test-id: ${id}`], { signal: controller.signal });
    const deadline = Date.now() + 20_000;
    while ((await savedParts(state)) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    controller.abort(new Error("interrupted"));
    const first = await running;
    expect(first.code, first.stderr).toBe(130);
    expect(first.stderr).toContain("the multipart upload is kept in");
    const saved = JSON.parse(await readFile(state, "utf8")) as { kind: string; uploadId: string; parts: { partNumber: number }[] };
    expect(saved.kind).toBe("xml-multipart");
    expect(gcs.getMultipartUpload(saved.uploadId)).toBeDefined();

    // The state file's kind is checked against the flags: without --parallel it is refused, nothing sent.
    const before = log.length;
    const plain = await cli([file, ...target("resume.bin"), "--resume", state]);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/^gcs-upload: invalid-argument: state file .* holds a parallel \(XML multipart\) upload: rerun with --parallel/m);
    const finalize = await cli(["--finalize", state, "--endpoint", gcs.url]);
    expect(finalize.code).toBe(2);
    expect(finalize.stderr).toMatch(/--finalize commits a resumable session only/);
    expect(ownRequests(before)).toEqual([]);

    const resumed = await cli([...argv, "--json"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout) as unknown).toMatchObject({ ok: true, size: data.length, crc32c: crc32cBase64(crc32c(data)) });
    expect(Buffer.from(gcs.getObject(BUCKET, "resume.bin")!.data!).equals(data)).toBe(true);
    const kept = new Set(saved.parts.map((p) => p.partNumber));
    const resent = new Set(partsPut("resume.bin", before));
    expect([...resent].filter((n) => kept.has(n))).toEqual([]);
    expect([...new Set([...kept, ...resent])].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(existsSync(state)).toBe(false);
    expect(gcs.listMultipartUploads(BUCKET)).toEqual([]);
  }, 40_000);

  it("stdin: an interrupted parallel upload continues when the same data is piped again (its completed parts' CRC32C checked and skipped); other data is refused", async () => {
    const data = randomBytes(4 * PART + 11);
    const state = join(dir, "stdin-resume.state");
    const id = gcs.registerFaults({ "storage.objects.insert": ["mp-part#3:stall-for-3s-after-0K"] });
    const argv = ["-", ...target("stdin-resume.bin"), "--parallel", "2", "--part-size", "5MiB", "--resume", state];
    const controller = new AbortController();
    const running = cli([...argv, "--header", `x-retry-test-id: ${id}`], { stdin: data, signal: controller.signal });
    const deadline = Date.now() + 20_000;
    // Part 1 in the state file: the source then resumes after it.
    const partOne = async (): Promise<boolean> => {
      try {
        return (JSON.parse(await readFile(state, "utf8")) as { parts?: { partNumber: number }[] }).parts?.some((p) => p.partNumber === 1) === true;
      } catch {
        return false;
      }
    };
    while (!(await partOne()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    controller.abort(new Error("interrupted"));
    const first = await running;
    expect(first.code, first.stderr).toBe(130);
    expect(first.stderr).toContain("pipe the same data again");

    const before = log.length;
    const other = Buffer.from(data);
    other[10] = other[10]! ^ 0xff;
    const refused = await cli(argv, { stdin: other });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^gcs-upload: source-mismatch: /m);
    expect(ownRequests(before), refused.stderr).toEqual([]);

    const resumed = await cli([...argv, "--json"], { stdin: data });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout) as unknown).toMatchObject({ ok: true, size: data.length, crc32c: crc32cBase64(crc32c(data)), localCrc32c: crc32cBase64(crc32c(data)) });
    expect(Buffer.from(gcs.getObject(BUCKET, "stdin-resume.bin")!.data!).equals(data)).toBe(true);
    expect(partsPut("stdin-resume.bin", before)).not.toContain(1);
    expect(existsSync(state)).toBe(false);
  }, 40_000);

  it("a session state file is refused with --parallel, naming what to do, nothing sent", async () => {
    const state = join(dir, "session.state");
    const controller = new AbortController();
    const data = randomBytes(40 * 256 * 1024);
    const running = cli(["-", ...target("session.bin"), "--chunk-size", "256KiB", "--resume", state], { stdin: data, signal: controller.signal });
    const deadline = Date.now() + 20_000;
    while (!existsSync(state) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    controller.abort(new Error("interrupted"));
    expect((await running).code).toBe(130);
    // The chunk the interrupted run had in flight may still be answered (and logged) after it returned.
    for (let length = -1; length !== log.length; ) {
      length = log.length;
      await new Promise((r) => setTimeout(r, 100));
    }
    const before = log.length;
    const result = await cli(["-", ...target("session.bin"), "--parallel", "4", "--resume", state], { stdin: data });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/holds a resumable session, which a parallel upload cannot continue/);
    expect(log.slice(before)).toEqual([]);
  }, 30_000);
});

describe("--parallel and --part-size refusals: exit 2, nothing sent", () => {
  it.each([
    ["--parallel 0", ["--parallel", "0"], /--parallel takes the number of parts in flight, a whole number from 1 to 32, got "0"/],
    ["--parallel 33", ["--parallel", "33"], /from 1 to 32, got "33"/],
    ["--parallel 2.5", ["--parallel", "2.5"], /got "2\.5"/],
    ["--parallel four", ["--parallel", "four"], /got "four"/],
    ["--part-size below 5MiB", ["--part-size", "4MiB"], /--part-size must be from 5MiB to 5GiB/],
    ["--part-size above 5GiB", ["--part-size", "6GiB"], /--part-size must be from 5MiB to 5GiB/],
    ["--parallel with --chunk-size", ["--parallel", "2", "--chunk-size", "256KiB"], /--chunk-size is for a resumable session/],
    ["--parallel with --checksum md5", ["--parallel", "2", "--checksum", "md5"], /checksum: .*no MD5/],
    ["--parallel with --finalize", ["--finalize", "x.state", "--parallel", "2"], /--finalize STATE_FILE takes no source/],
  ])("%s", async (_name, flags, message) => {
    const argv = flags.includes("--finalize") ? flags : ["-", `gs://${BUCKET}/refused`, "--endpoint", gcs.url, ...flags];
    const before = log.length;
    const result = await cli([...argv, "--json"]);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout.trim().split("\n").at(-1)!) as unknown).toMatchObject({ ok: false, code: "invalid-argument" });
    expect(result.stderr).toMatch(message);
    expect(log.slice(before)).toEqual([]);
  });
});
