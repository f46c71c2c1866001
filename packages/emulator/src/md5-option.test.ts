/** `md5: false` (bin: `--no-md5`): no MD5 computed, CRC32C still checked, an MD5 to check is refused. */
import { describe, expect, it } from "vitest";
import {
  KIB256,
  bytes,
  crc32cBase64,
  http,
  md5Base64,
  persistedOf,
  putChunk,
  query,
  startSession,
  startTestEmulator,
  useTestEmulator,
} from "./test-support/raw-http.js";

const { em, fresh } = useTestEmulator("nomd5-", { storage: "discard", md5: false });

describe("md5: false", () => {
  it("finalizes with crc32c and without md5Hash (resource, handle, X-Goog-Hash)", async () => {
    const name = fresh();
    const data = bytes(2 * KIB256 + 17);
    const session = await startSession(em.url, name);
    expect((await putChunk(session, 0, data.subarray(0, KIB256), "*")).ok).toBe(true);
    const done = await putChunk(session, KIB256, data.subarray(KIB256), data.length, { "X-Goog-Hash": `crc32c=${crc32cBase64(data)}` });
    if (!done.ok) throw new Error(done.code);
    expect(done.status).toBe(200);
    const resource = done.json();
    expect(resource).toMatchObject({ size: String(data.length), crc32c: crc32cBase64(data) });
    expect(resource).not.toHaveProperty("md5Hash");
    expect(done.headers["x-goog-hash"]).toBe(`crc32c=${crc32cBase64(data)}`);
    const object = em.getObject("bkt", name)!;
    expect(object.md5Hash).toBeUndefined();
    expect(object.crc32c).toBe(crc32cBase64(data));
    const metadata = await http(`${em.url}/storage/v1/b/bkt/o/${name}`);
    expect(metadata.json()).not.toHaveProperty("md5Hash");
  });

  it("still checks CRC32C", async () => {
    const name = fresh();
    const session = await startSession(em.url, name);
    const wrong = await putChunk(session, 0, Buffer.from("hello"), 5, { "X-Goog-Hash": `crc32c=${crc32cBase64(Buffer.from("x"))}` });
    expect(wrong.ok && wrong.status).toBe(400);
    expect(em.getObject("bkt", name)).toBeUndefined();
  });

  it("refuses an X-Goog-Hash md5 (even a right one) with 400 saying MD5 is off, and creates nothing", async () => {
    const name = fresh();
    const data = bytes(KIB256 + 5);
    const session = await startSession(em.url, name);
    expect((await putChunk(session, 0, data.subarray(0, KIB256), "*")).ok).toBe(true);
    const refused = await putChunk(session, KIB256, data.subarray(KIB256), data.length, {
      "X-Goog-Hash": `crc32c=${crc32cBase64(data)},md5=${md5Base64(data)}`,
    });
    if (!refused.ok) throw new Error(refused.code);
    expect(refused.status).toBe(400);
    expect(refused.text).toMatch(/without MD5/);
    expect(em.getObject("bkt", name)).toBeUndefined();
    expect(persistedOf(await query(session))).toBe(KIB256);
    const done = await putChunk(session, KIB256, data.subarray(KIB256), data.length, { "X-Goog-Hash": `crc32c=${crc32cBase64(data)}` });
    expect(done.ok && done.status).toBe(200);
  });

  it("refuses a declared md5Hash at session start with 400", async () => {
    const response = await http(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=resumable&name=${fresh()}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ md5Hash: md5Base64(Buffer.from("x")) }),
    });
    expect(response.status).toBe(400);
    expect(response.text).toMatch(/without MD5/);
  });

  it("works in memory mode too, and the default computes MD5", async () => {
    const memory = await startTestEmulator({ md5: false });
    const defaults = await startTestEmulator({ storage: "discard" });
    try {
      const data = Buffer.from("hello");
      const a = await putChunk(await startSession(memory.url, "a"), 0, data, 5);
      expect(a.ok && a.json()).not.toHaveProperty("md5Hash");
      expect(Buffer.from(memory.getObject("bkt", "a")!.data!).equals(data)).toBe(true);
      const b = await putChunk(await startSession(defaults.url, "b"), 0, data, 5);
      expect(b.ok && b.json()).toMatchObject({ md5Hash: md5Base64(data) });
      expect(defaults.getObject("bkt", "b")!.md5Hash).toBe(md5Base64(data));
    } finally {
      await memory.stop();
      await defaults.stop();
    }
  });
});
