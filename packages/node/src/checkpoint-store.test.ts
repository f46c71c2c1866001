import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CheckpointFileError, FileCheckpointStore, MemoryCheckpointStore } from "./checkpoint-store.js";

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
    await store.save({ version: 1, persisted: 262144 });
    await store.save({ version: 1, persisted: 524288 });
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
    expect(await readFile(path, "utf8")).toBe("{not json");
  });
});

describe("MemoryCheckpointStore", () => {
  it("gives back what a file would: a JSON copy", async () => {
    const store = new MemoryCheckpointStore();
    const original = { a: 1 };
    await store.save(original);
    original.a = 2;
    expect(await store.load()).toEqual({ a: 1 });
  });
});
