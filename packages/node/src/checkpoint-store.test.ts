import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryCheckpointStore, type Checkpoint } from "@resumable-gcs/core";
import { afterEach, describe, expect, it } from "vitest";
import { CheckpointFileError, FileCheckpointStore } from "./checkpoint-store.js";

/** The store treats a checkpoint as opaque JSON; a stand-in shape is enough here. */
const checkpointLike = (value: Record<string, unknown>) => value as unknown as Checkpoint;

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "rgcs-store-"));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("FileCheckpointStore", () => {
  it("round-trips a checkpoint, leaves no temp files, and is private to the user", async () => {
    const dir = await tempDir();
    const store = new FileCheckpointStore(join(dir, "nested", "upload.json"));
    expect(await store.load()).toBeUndefined();
    await store.save(checkpointLike({ version: 1, persisted: 262144 }));
    await store.save(checkpointLike({ version: 1, persisted: 524288 }));
    expect(await store.load()).toEqual({ version: 1, persisted: 524288 });
    expect(await readdir(join(dir, "nested"))).toEqual(["upload.json"]);
    expect((await stat(store.path)).mode & 0o777).toBe(0o600);
    await store.clear();
    expect(await store.load()).toBeUndefined();
  });

  it("reports a file that is not JSON with a typed error", async () => {
    const dir = await tempDir();
    const path = join(dir, "bad.json");
    await writeFile(path, "{not json");
    await expect(new FileCheckpointStore(path).load()).rejects.toBeInstanceOf(CheckpointFileError);
    await expect(new FileCheckpointStore(path).load()).rejects.toMatchObject({ name: "CheckpointFileError", code: "invalid-checkpoint" });
    expect(await readFile(path, "utf8")).toBe("{not json");
  });
});

describe("FileCheckpointStore: temp files of killed saves", () => {
  it("a later save and clear() remove stale <path>.<pid>.<n>.tmp files of the same path only", async () => {
    const dir = await tempDir();
    const path = join(dir, "state.json");
    // What a process SIGKILLed between writing and renaming leaves behind (it holds a session URI).
    await writeFile(`${path}.4242.7.tmp`, '{"sessionUri":"https://storage.googleapis.com/x?upload_id=secret"}');
    await writeFile(`${path}.99.1.tmp`, "{}");
    await writeFile(join(dir, "other.json.4242.7.tmp"), "{}");
    await writeFile(join(dir, "state.json.notes"), "keep me");
    const store = new FileCheckpointStore(path);
    await store.save(checkpointLike({ version: 2 }));
    expect((await readdir(dir)).sort()).toEqual(["other.json.4242.7.tmp", "state.json", "state.json.notes"]);
    await writeFile(`${path}.4243.2.tmp`, "{}");
    await store.clear();
    expect((await readdir(dir)).sort()).toEqual(["other.json.4242.7.tmp", "state.json.notes"]);
  });

  it("clear() sweeps leftovers even when no checkpoint file exists, and tolerates a missing directory", async () => {
    const dir = await tempDir();
    const path = join(dir, "state.json");
    await writeFile(`${path}.1.1.tmp`, "{}");
    await new FileCheckpointStore(path).clear();
    expect(await readdir(dir)).toEqual([]);
    await expect(new FileCheckpointStore(join(dir, "missing", "state.json")).clear()).resolves.toBeUndefined();
  });
});

describe("MemoryCheckpointStore", () => {
  it("gives back what a file would: a JSON copy", async () => {
    const store = new MemoryCheckpointStore();
    const original = { a: 1 };
    await store.save(checkpointLike(original));
    original.a = 2;
    expect(await store.load()).toEqual({ a: 1 });
  });
});
