import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseUploadCheckpoint, resumePointOf, type MultipartCheckpoint } from "@resumable-gcs/core";
import { startEmulator, type Emulator } from "@resumable-gcs/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crc32cBase64, generated } from "./test-support/data.js";

const child = fileURLToPath(new URL("../test-fixtures/crash-child.mjs", import.meta.url));
let emulator: Emulator;
let dir: string;
/** Every part PUT the emulator answered 200, as `name#partNumber`, in order. */
const partPuts: string[] = [];
beforeAll(async () => {
  // Slow answers, so the first process is surely mid-upload when it is killed.
  const logger = (line: string): void => {
    const match = /^PUT \/crash\/(\S+)\?partNumber=(\d+)&\S* -> 200/.exec(line);
    if (match !== null) partPuts.push(`${decodeURIComponent(match[1]!)}#${match[2]}`);
  };
  emulator = await startEmulator({ buckets: ["crash"], latencyMs: 60, logger });
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

  it("a multipart upload (parallelism 3) SIGKILLed mid-upload is resumed by a second process: byte-identical, no part sent twice or lost", async () => {
    const part = 5 * 1024 * 1024;
    const size = 7 * part + 4321;
    const seed = 78;
    const checkpoint = join(dir, "multipart.json");
    const args = [emulator.url, "crash", "killed-mp.bin", checkpoint, String(size), String(seed), "3"];
    const partsIn = async (): Promise<number> => {
      try {
        // Counted only once part 1 is in: parts finish out of order, and the source resumes after the run from part 1.
        const saved = JSON.parse(await readFile(checkpoint, "utf8")) as { kind?: string; parts?: { partNumber: number }[] };
        if (saved.kind !== "xml-multipart") return -1;
        return saved.parts?.some((p) => p.partNumber === 1) === true ? saved.parts.length : 0;
      } catch {
        return -1;
      }
    };

    const first = run(args);
    const deadline = Date.now() + 30_000;
    while ((await partsIn()) < 2) {
      if (Date.now() > deadline) throw new Error(`first upload never checkpointed two parts: ${first.output().stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    first.proc.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    expect(emulator.getObject("crash", "killed-mp.bin")).toBeUndefined();
    const saved = parseUploadCheckpoint(JSON.parse(await readFile(checkpoint, "utf8"))) as MultipartCheckpoint;
    expect(saved.kind).toBe("xml-multipart");
    const { resumeOffset } = resumePointOf(saved);
    expect(resumeOffset).toBeGreaterThanOrEqual(part);
    const kept = new Set(saved.parts.map((p) => p.partNumber));
    // A part whose body had fully arrived before the kill may still be answered (and logged) after it.
    for (let length = -1; length !== partPuts.length; ) {
      length = partPuts.length;
      await new Promise((r) => setTimeout(r, 200));
    }
    const putsBefore = partPuts.length;

    const second = run(args);
    const { code } = await second.exited;
    expect(code, second.output().stderr).toBe(0);
    const result = JSON.parse(second.output().stdout) as { size: string; crc32c: string; resumedFrom: number };
    const data = generated(size, seed);
    expect(result.resumedFrom).toBe(resumeOffset);
    expect(result.size).toBe(String(size));
    expect(result.crc32c).toBe(crc32cBase64(data));
    expect(Buffer.from(emulator.getObject("crash", "killed-mp.bin")!.data!).equals(data)).toBe(true);
    // The second process sent each part the checkpoint did not hold, once, and none it held.
    const resent = partPuts.slice(putsBefore).filter((p) => p.startsWith("killed-mp.bin#")).map((p) => Number(p.split("#")[1]));
    expect(resent.filter((n) => kept.has(n))).toEqual([]);
    expect(new Set(resent).size).toBe(resent.length);
    expect([...kept, ...resent].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(emulator.listMultipartUploads("crash")).toEqual([]);
    expect(await partsIn()).toBe(-1);
  }, 90_000);
});
