// The built binary as a child process against an emulator started here: what a user runs, end to end.
// The package's own `build` runs before `test` (turbo.json), so dist/bin.js is current.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32c } from "@node-rs/crc32";
import { startEmulator, type Emulator } from "@resumable-gcs/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crc32cBase64 } from "./cli.js";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "bin.js");
const BUCKET = "cli-test-bucket";

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs dist/bin.js; `env` never inherits STORAGE_EMULATOR_HOST or credentials from the machine. */
function run(args: string[], options: { stdin?: Buffer | string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.stdin ?? "");
  });
}

let gcs: Emulator;
let dir: string;

beforeAll(async () => {
  expect(existsSync(BIN), `build first: ${BIN}`).toBe(true);
  gcs = await startEmulator({ buckets: [BUCKET] });
  dir = await mkdtemp(join(tmpdir(), "gcs-upload-test-"));
});

afterAll(async () => {
  await gcs.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("gcs-upload uploads", () => {
  it("streams stdin into the object, with metadata and content type", async () => {
    const data = randomBytes(700_000);
    const result = await run(
      ["-", `gs://${BUCKET}/from-stdin.bin`, "--endpoint", gcs.url, "--chunk-size", "256KiB", "--content-type", "application/x-test", "--metadata", "a=1", "--metadata", "b=two=2"],
      { stdin: data },
    );
    expect(result.stderr).toContain("MATCH");
    expect(result.stderr).not.toContain("MISMATCH");
    expect(result.code).toBe(0);
    const object = gcs.getObject(BUCKET, "from-stdin.bin");
    expect(Buffer.from(object!.data!).equals(data)).toBe(true);
    expect(object!.contentType).toBe("application/x-test");
    expect(object!.metadata).toEqual({ a: "1", b: "two=2" });
  });

  it("uploads a file and prints one JSON line with --json", async () => {
    const data = randomBytes(1_000_003);
    const file = join(dir, "file.bin");
    await writeFile(file, data);
    const result = await run([file, `gs://${BUCKET}/from-file.bin`, "--json", "--checksum", "both"], { env: { STORAGE_EMULATOR_HOST: gcs.url } });
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const json = JSON.parse(lines[0]!) as Record<string, unknown>;
    const object = gcs.getObject(BUCKET, "from-file.bin")!;
    expect(json).toMatchObject({
      ok: true,
      bucket: BUCKET,
      name: "from-file.bin",
      size: data.length,
      crc32c: crc32cBase64(crc32c(data)),
      md5Hash: object.md5Hash,
      generation: object.generation,
    });
    expect(typeof json["elapsedMs"]).toBe("number");
    expect(Buffer.from(object.data!).equals(data)).toBe(true);
  });

  it("honours --if-generation-match 0 (exit 1 when the object exists)", async () => {
    const first = await run(["-", `gs://${BUCKET}/once.txt`, "--endpoint", gcs.url, "--if-generation-match", "0"], { stdin: "one" });
    expect(first.code).toBe(0);
    const second = await run(["-", `gs://${BUCKET}/once.txt`, "--endpoint", gcs.url, "--if-generation-match", "0", "--json"], { stdin: "two" });
    expect(second.code).toBe(1);
    expect(JSON.parse(second.stdout) as unknown).toMatchObject({ ok: false, code: "precondition-failed" });
    expect(second.stderr).toMatch(/^gcs-upload: precondition-failed: .* — /m);
  });

  it("fails with exit 1 and one clear line for a bucket that does not exist", async () => {
    const result = await run(["-", "gs://no-such-bucket-here/x.txt", "--endpoint", gcs.url], { stdin: "data" });
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split("\n");
    expect(lines.at(-1)).toMatch(/^gcs-upload: [a-z-]+: .* — .+/);
    expect(result.stderr).not.toContain("upload_id=");
  });

  it("--local uploads into an embedded emulator without credentials", async () => {
    const result = await run(["-", "gs://local-bucket/hello.txt", "--local"], { stdin: "hello, world\n" });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("embedded in-memory emulator at http://127.0.0.1:");
    expect(result.stderr).toContain(crc32cBase64(crc32c(Buffer.from("hello, world\n"))));
    expect(result.stderr).toMatch(/crc32c .* MATCH/);
  });

  it("survives faults injected with --local-faults and notes each retry in one short line", async () => {
    const data = randomBytes(2 * 1024 * 1024 + 17);
    const result = await run(
      ["-", "gs://local-bucket/faulty.bin", "--local", "--chunk-size", "512KiB", "--local-faults", "return-503,return-reset-connection-after-256K,return-short-ack-256K"],
      { stdin: data },
    );
    expect(result.code).toBe(0);
    const retries = result.stderr.split("\n").filter((l) => l.includes("retry"));
    expect(retries.length).toBeGreaterThanOrEqual(2);
    for (const line of retries) expect(line.length).toBeLessThan(160);
    expect(result.stderr).not.toMatch(/upload_id=[^<]/);
    expect(result.stderr).toMatch(/size .* MATCH/);
  }, 30_000);
});

describe("gcs-upload usage errors exit 2 with a hint", () => {
  it.each([
    ["a chunk size that is not a multiple of 256 KiB", ["--chunk-size", "100KiB", "-", "gs://b-b-b/x"], /multiple of 256KiB/],
    ["an unreadable chunk size", ["--chunk-size", "lots", "-", "gs://b-b-b/x"], /as a size/],
    ["an unknown flag", ["--frobnicate", "-", "gs://b-b-b/x"], /Unknown option '--frobnicate'/],
    ["missing arguments", ["-"], /expected a source/],
    ["a destination that is not gs://", ["-", "s3://b/x"], /gs:\/\/BUCKET\/OBJECT/],
    ["a bad checksum mode", ["--checksum", "sha1", "-", "gs://b-b-b/x"], /--checksum must be one of/],
  ])("%s", async (_name, args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain("gcs-upload --help");
  });

  it("accepts 8MiB and plain bytes as chunk sizes", async () => {
    for (const size of ["8MiB", "262144"]) {
      const result = await run(["-", `gs://${BUCKET}/size-${size}.txt`, "--endpoint", gcs.url, "--chunk-size", size, "--quiet"], { stdin: "x" });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toBe("");
    }
  });

  it("--help shows examples and exit codes; --version prints the version", async () => {
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Examples:");
    expect(help.stdout).toContain("Exit codes:");
    const version = await run(["--version"]);
    expect(version.code).toBe(0);
    const pkg = JSON.parse(readFileSync(join(dirname(BIN), "..", "package.json"), "utf8")) as { version: string };
    expect(version.stdout.trim()).toBe(pkg.version);
  });
});

describe("gcs-upload --resume", () => {
  it("continues a file upload after the first process is SIGKILLed mid-upload", async () => {
    const slow = await startEmulator({ buckets: [BUCKET], latencyMs: 60 });
    try {
      const data = randomBytes(6 * 1024 * 1024 + 1234);
      const file = join(dir, "resume.bin");
      const state = join(dir, "resume.state");
      await writeFile(file, data);
      const args = [file, `gs://${BUCKET}/resumed.bin`, "--endpoint", slow.url, "--chunk-size", "256KiB", "--resume", state];
      const child = spawn(process.execPath, [BIN, ...args], { stdio: "ignore", env: { PATH: process.env["PATH"] ?? "" } });
      const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
      // Kill once the state file records persisted bytes: a real crash in the middle of the upload.
      let persisted = 0;
      const deadline = Date.now() + 20_000;
      while (persisted === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        try {
          persisted = (JSON.parse(await readFile(state, "utf8")) as { resumeOffset: number }).resumeOffset;
        } catch {
          // not written yet, or caught mid-rename
        }
      }
      child.kill("SIGKILL");
      await exited;
      expect(persisted).toBeGreaterThan(0);
      expect(persisted).toBeLessThan(data.length);
      expect(slow.getObject(BUCKET, "resumed.bin")).toBeUndefined();

      const second = await run([...args, "--json"]);
      expect(second.stderr).toBe("");
      expect(second.code).toBe(0);
      expect(JSON.parse(second.stdout) as unknown).toMatchObject({ ok: true, size: data.length, crc32c: crc32cBase64(crc32c(data)) });
      expect(Buffer.from(slow.getObject(BUCKET, "resumed.bin")!.data!).equals(data)).toBe(true);
      // A finished upload leaves no state behind.
      expect(existsSync(state)).toBe(false);
    } finally {
      await slow.stop();
    }
  }, 60_000);

  it.each([
    ["with --resume: keeps the session and says how to continue", true],
    ["without --resume: cancels the session", false],
  ])("Ctrl-C (SIGINT) exits 130 %s", async (_name, resume) => {
    const log: string[] = [];
    const slow = await startEmulator({ buckets: [BUCKET], latencyMs: 60, logger: (line) => log.push(line) });
    try {
      const file = join(dir, `sigint-${String(resume)}.bin`);
      const state = join(dir, `sigint-${String(resume)}.state`);
      await writeFile(file, randomBytes(6 * 1024 * 1024));
      const args = [file, `gs://${BUCKET}/sigint.bin`, "--endpoint", slow.url, "--chunk-size", "256KiB", "--quiet", ...(resume ? ["--resume", state] : [])];
      const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env["PATH"] ?? "" } });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
      // Interrupt once a chunk is on its way (the session exists), however slowly the child started.
      const deadline = Date.now() + 30_000;
      while (!log.some((line) => line.includes("PUT")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      child.kill("SIGINT");
      expect(await exited).toBe(130);
      expect(stderr).toMatch(/^gcs-upload: interrupted: /m);
      expect(slow.getObject(BUCKET, "sigint.bin")).toBeUndefined();
      if (resume) {
        expect(stderr).toContain("run the same command again to continue");
        const saved = JSON.parse(await readFile(state, "utf8")) as { sessionUri: string };
        expect(slow.getUploadSession(saved.sessionUri)).toMatchObject({ state: "open" });
      } else {
        expect(stderr).toContain("upload cancelled");
        expect(log.some((line) => line.includes("DELETE"))).toBe(true);
      }
    } finally {
      await slow.stop();
    }
  });

  it("refuses a state file that is not a checkpoint before sending anything (invalid-checkpoint, exit 2)", async () => {
    const state = join(dir, "stdin.state");
    await writeFile(state, JSON.stringify({ version: 1, persisted: 262_144 }));
    const result = await run(["-", `gs://${BUCKET}/stdin-resume.bin`, "--endpoint", gcs.url, "--resume", state], { stdin: "data" });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^gcs-upload: invalid-checkpoint: state file .* — /m);
    expect(gcs.getObject(BUCKET, "stdin-resume.bin")).toBeUndefined();
  });
});
