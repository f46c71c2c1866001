import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startEmulator, type Emulator } from "@resumable-gcs/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crc32cBase64, generated } from "./test-support/data.js";

const child = fileURLToPath(new URL("../test-fixtures/crash-child.mjs", import.meta.url));
let emulator: Emulator;
let dir: string;
beforeAll(async () => {
  // Slow answers, so the first process is surely mid-upload when it is killed.
  emulator = await startEmulator({ buckets: ["crash"], latencyMs: 60 });
  dir = await mkdtemp(join(tmpdir(), "rgcs-crash-"));
});
afterAll(async () => {
  await emulator.stop();
  await rm(dir, { recursive: true, force: true });
});

function run(args: string[]) {
  const proc = spawn(process.execPath, [child, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { proc, exited, output: () => ({ stdout, stderr }) };
}

async function persistedIn(path: string): Promise<number> {
  try {
    return (JSON.parse(await readFile(path, "utf8")) as { resumeOffset: number }).resumeOffset;
  } catch {
    return -1;
  }
}

describe("crash and resume across processes", () => {
  it("a process SIGKILLed mid-upload is resumed by a second one from the checkpoint file, byte-identical", async () => {
    const size = 6 * 1024 * 1024 + 12_345;
    const seed = 77;
    const checkpoint = join(dir, "upload.json");
    const args = [emulator.url, "crash", "killed.bin", checkpoint, String(size), String(seed)];

    const first = run(args);
    // Wait until at least 1 MiB is persisted and checkpointed, then kill without warning.
    const deadline = Date.now() + 20_000;
    while ((await persistedIn(checkpoint)) < 1024 * 1024) {
      if (Date.now() > deadline) throw new Error(`first upload never checkpointed: ${first.output().stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    first.proc.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    expect(emulator.getObject("crash", "killed.bin")).toBeUndefined();
    const savedOffset = await persistedIn(checkpoint);
    expect(savedOffset).toBeGreaterThanOrEqual(1024 * 1024);

    const second = run(args);
    const { code } = await second.exited;
    expect(code, second.output().stderr).toBe(0);
    const result = JSON.parse(second.output().stdout) as { size: string; crc32c: string; resumedFrom: number };
    const data = generated(size, seed);
    expect(result.resumedFrom).toBe(savedOffset);
    expect(result.size).toBe(String(size));
    expect(result.crc32c).toBe(crc32cBase64(data));
    expect(Buffer.from(emulator.getObject("crash", "killed.bin")!.data!).equals(data)).toBe(true);
    // The finished upload forgets its checkpoint.
    expect(await persistedIn(checkpoint)).toBe(-1);
  }, 60_000);
});
