/** The checkpoint stores on Chromium's real IndexedDB and localStorage. */
import { afterEach, describe, expect, it } from "vitest";
import { isMultipartCheckpoint, parseUploadCheckpoint, type Checkpoint, type UploadCheckpoint } from "@resumable-gcs/core";
import { IndexedDbCheckpointStore, LocalStorageCheckpointStore } from "./checkpoint-stores.js";

const checkpoint = (resumeOffset: number): Checkpoint =>
  ({ version: 1, sessionUri: `http://127.0.0.1:1/upload?upload_id=secret-${resumeOffset}`, persisted: resumeOffset, crc32c: 12345, chunkSize: 262144, fingerprint: "f" }) as unknown as Checkpoint;

/** A sealed multipart checkpoint (written by core's sealer): its integrity digest must survive the store. */
const multipart = JSON.parse(
  '{"version":1,"kind":"xml-multipart","uploadId":"mpu-browser-fixture","partSize":5242880,"parts":[{"partNumber":1,"etag":"\\"etag-1\\"","size":5242880,"crc32c":305419896},{"partNumber":2,"etag":"\\"etag-2\\"","size":5242880,"crc32c":2271560481}],"fingerprint":"fnv1a64:0123456789abcdef","createdAt":"2030-01-01T00:00:00.000Z","integrity":"fnv1a64:3c25caf97e59db59"}',
) as UploadCheckpoint;

afterEach(() => localStorage.clear());

describe.each<[string, (key: string, variant?: string) => { load(): Promise<unknown>; save(c: UploadCheckpoint): Promise<void>; clear(): Promise<void> }]>([
  ["IndexedDbCheckpointStore", (key, variant) => new IndexedDbCheckpointStore(key, variant === undefined ? {} : { storeName: variant })],
  ["LocalStorageCheckpointStore", (key) => new LocalStorageCheckpointStore(key)],
])("%s", (_name, create) => {
  it("loads nothing before a save, the last saved checkpoint after saves, nothing after clear", async () => {
    const store = create(`k-${Math.random()}`);
    expect(await store.load()).toBeUndefined();
    await store.save(checkpoint(1));
    await store.save(checkpoint(2));
    expect(await store.load()).toEqual(JSON.parse(JSON.stringify(checkpoint(2))));
    await store.clear();
    expect(await store.load()).toBeUndefined();
  });

  it("round-trips a multipart checkpoint: it parses again, sealed, as kind xml-multipart", async () => {
    const store = create(`mp-${Math.random()}`);
    expect(isMultipartCheckpoint(parseUploadCheckpoint(multipart))).toBe(true);
    await store.save(multipart);
    const loaded = parseUploadCheckpoint(await store.load());
    expect(isMultipartCheckpoint(loaded)).toBe(true);
    expect(loaded).toEqual(multipart);
  });

  it("keeps checkpoints of different keys apart, and a new instance reads what an earlier one saved", async () => {
    const a = `a-${Math.random()}`;
    const b = `b-${Math.random()}`;
    await create(a).save(checkpoint(10));
    await create(b).save(checkpoint(20));
    expect(await create(a).load()).toMatchObject({ persisted: 10 });
    expect(await create(b).load()).toMatchObject({ persisted: 20 });
    await create(a).clear();
    expect(await create(a).load()).toBeUndefined();
    expect(await create(b).load()).toMatchObject({ persisted: 20 });
  });
});

describe("IndexedDbCheckpointStore specifics", () => {
  it("adds a second object store to an existing database (version upgrade) without losing the first", async () => {
    const databaseName = `db-${Math.random()}`;
    await new IndexedDbCheckpointStore("k", { databaseName }).save(checkpoint(1));
    const other = new IndexedDbCheckpointStore("k", { databaseName, storeName: "other" });
    await other.save(checkpoint(2));
    expect(await new IndexedDbCheckpointStore("k", { databaseName }).load()).toMatchObject({ persisted: 1 });
    expect(await other.load()).toMatchObject({ persisted: 2 });
    other.close();
  });

  it("refuses an empty key", () => {
    expect(() => new IndexedDbCheckpointStore("")).toThrow(TypeError);
  });
});

describe("LocalStorageCheckpointStore specifics", () => {
  it("hands back unparseable text as it is, for the layer to refuse as an invalid checkpoint", async () => {
    localStorage.setItem("broken", "{not json");
    expect(await new LocalStorageCheckpointStore("broken").load()).toBe("{not json");
  });

  it("rejects a save the storage refuses (quota), without throwing synchronously", async () => {
    const full = { getItem: () => null, setItem: () => { throw new DOMException("full", "QuotaExceededError"); }, removeItem: () => undefined };
    const store = new LocalStorageCheckpointStore("k", { storage: full });
    await expect(store.save(checkpoint(1))).rejects.toThrow("full");
  });
});
