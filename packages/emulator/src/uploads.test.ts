import { describe, expect, it } from "vitest";
import {
  KIB256,
  bytes,
  crc32cBase64,
  exchange,
  http,
  md5Base64,
  persistedOf,
  putChunk,
  query,
  sendAndCut,
  startSession,
  startTestEmulator,
  useTestEmulator,
} from "./test-support/raw-http.js";

const { em, fresh } = useTestEmulator("obj-");

describe("session start", () => {
  it("answers 200 with a Location carrying upload_id and an empty body", async () => {
    const response = await http(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=resumable&name=a%2Fb`, {
      method: "POST",
      headers: { "Content-Type": "application/json; charset=UTF-8" },
      body: "{}",
    });
    expect(response.status).toBe(200);
    expect(response.body.length).toBe(0);
    const location = String(response.headers.location);
    expect(location).toMatch(new RegExp(`^${em.url}/upload/storage/v1/b/bkt/o\\?uploadType=resumable&name=a%2Fb&upload_id=[\\w-]{20,}$`));
  });

  it("takes the name and metadata from the JSON body", async () => {
    const response = await http(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=resumable`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Upload-Content-Type": "text/csv" },
      body: JSON.stringify({ name: "from-body.txt", metadata: { k: "v" }, cacheControl: "no-cache" }),
    });
    expect(response.status).toBe(200);
    const done = await putChunk(String(response.headers.location), 0, Buffer.from("hi"), 2);
    expect(done.ok && done.status).toBe(200);
    const object = em.getObject("bkt", "from-body.txt")!;
    expect(object.contentType).toBe("text/csv");
    expect(object.metadata).toEqual({ k: "v" });
    expect(object.resource.cacheControl).toBe("no-cache");
  });

  it("accepts predefinedAcl, kmsKeyName and userProject", async () => {
    const session = await startSession(em.url, fresh(), { query: "&predefinedAcl=private&kmsKeyName=projects/p/k&userProject=p" });
    const done = await putChunk(session, 0, Buffer.from("x"), 1);
    expect(done.ok && done.json().kmsKeyName).toBe("projects/p/k");
  });

  it("refuses an unknown bucket (404), a missing name (400) and a bad length (400)", async () => {
    const unknown = await http(`${em.url}/upload/storage/v1/b/nope/o?uploadType=resumable&name=x`, { method: "POST", body: "{}" });
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 404, errors: [{ domain: "global", reason: "notFound" }] } });
    const noName = await http(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=resumable`, { method: "POST", body: "{}" });
    expect(noName.status).toBe(400);
    const badLength = await http(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=resumable&name=x`, {
      method: "POST",
      headers: { "X-Upload-Content-Length": "-3" },
      body: "{}",
    });
    expect(badLength.status).toBe(400);
  });
});

describe("chunks", () => {
  it("acknowledges whole chunks with 308 and Range, and finalizes on the total", async () => {
    const data = bytes(2 * KIB256 + 1000);
    const session = await startSession(em.url, "multi");
    const first = await putChunk(session, 0, data.subarray(0, KIB256), "*");
    expect(first.ok && first.status).toBe(308);
    expect(first.ok && first.statusMessage).toBe("Resume Incomplete");
    expect(first.headers?.range).toBe(`bytes=0-${KIB256 - 1}`);
    const second = await putChunk(session, KIB256, data.subarray(KIB256, 2 * KIB256), "*");
    expect(second.headers?.range).toBe(`bytes=0-${2 * KIB256 - 1}`);
    const last = await putChunk(session, 2 * KIB256, data.subarray(2 * KIB256), data.length);
    expect(last.ok && last.status).toBe(200);
    const resource = last.ok ? last.json() : {};
    expect(resource).toMatchObject({
      kind: "storage#object",
      name: "multi",
      bucket: "bkt",
      size: String(data.length),
      metageneration: "1",
      crc32c: crc32cBase64(data),
      md5Hash: md5Base64(data),
      contentType: "application/octet-stream",
    });
    expect(resource.generation).toMatch(/^\d+$/);
    for (const field of ["id", "selfLink", "timeCreated", "updated", "etag"]) expect(resource[field]).toBeTruthy();
    expect(Buffer.from(em.getObject("bkt", "multi")!.data!)).toEqual(data);
  });

  it("refuses a non-final chunk under 256 KiB with 400 and persists nothing", async () => {
    const session = await startSession(em.url, fresh());
    const small = await putChunk(session, 0, bytes(1000), "*");
    expect(small.ok && small.status).toBe(400);
    expect(small.ok && small.text).toContain("required to be equal or greater than 262144, except for the final request");
    const status = await query(session);
    expect(status.status).toBe(308);
    expect(status.headers.range).toBeUndefined();
    // Also when the total is known but the chunk does not reach it.
    const known = await putChunk(session, 0, bytes(1000), 5000);
    expect(known.ok && known.status).toBe(400);
  });

  it("persists only the 256 KiB-aligned prefix of a larger non-multiple chunk", async () => {
    const data = bytes(KIB256 + 5000);
    const session = await startSession(em.url, fresh());
    const response = await putChunk(session, 0, data, "*");
    expect(response.ok && response.status).toBe(308);
    expect(response.headers?.range).toBe(`bytes=0-${KIB256 - 1}`);
  });

  it("refuses a gap beyond the persisted offset with 400 and persists nothing", async () => {
    const data = bytes(3 * KIB256);
    const session = await startSession(em.url, fresh());
    await putChunk(session, 0, data.subarray(0, KIB256), "*");
    const gap = await putChunk(session, 2 * KIB256, data.subarray(2 * KIB256), "*");
    expect(gap.ok && gap.status).toBe(400);
    expect(persistedOf(await query(session))).toBe(KIB256);
  });

  it("ignores bytes below the persisted offset and appends only the new ones", async () => {
    const data = bytes(3 * KIB256 + 10, 7);
    const name = fresh();
    const session = await startSession(em.url, name);
    await putChunk(session, 0, data.subarray(0, 2 * KIB256), "*");
    // Resend from byte 256 KiB: the first 256 KiB of this request are already persisted.
    const overlap = await putChunk(session, KIB256, data.subarray(KIB256, 3 * KIB256), "*");
    expect(overlap.headers?.range).toBe(`bytes=0-${3 * KIB256 - 1}`);
    // A chunk entirely below the offset changes nothing.
    const old = await putChunk(session, 0, data.subarray(0, KIB256), "*");
    expect(old.headers?.range).toBe(`bytes=0-${3 * KIB256 - 1}`);
    const done = await putChunk(session, 2 * KIB256, data.subarray(2 * KIB256), data.length);
    expect(done.ok && done.status).toBe(200);
    expect(Buffer.from(em.getObject("bkt", name)!.data!)).toEqual(data);
  });

  it("refuses Content-Length that disagrees with Content-Range, and malformed ranges", async () => {
    const session = await startSession(em.url, fresh());
    const mismatch = await exchange(session, {
      method: "PUT",
      headers: { "Content-Range": `bytes 0-${KIB256 - 1}/*`, "Content-Length": String(KIB256 - 1) },
      body: bytes(KIB256 - 1),
    });
    expect(mismatch.ok && mismatch.status).toBe(400);
    const chunked = await exchange(session, {
      method: "PUT",
      headers: { "Content-Range": `bytes 0-${KIB256 - 1}/*` },
      body: bytes(KIB256 + 1),
      chunked: true,
    });
    expect(chunked.ok && chunked.status).toBe(400);
    for (const range of ["bytes 5-1/*", "bytes=0-1/2", "bytes 0-9/5", "items 0-1/2", "bytes */-1"]) {
      const bad = await exchange(session, { method: "PUT", headers: { "Content-Range": range }, body: Buffer.alloc(0) });
      expect(bad.ok && bad.status, range).toBe(400);
    }
    expect((await query(session)).headers.range).toBeUndefined();
  });

  it("accepts a chunked (no Content-Length) body of the stated length", async () => {
    const data = bytes(KIB256);
    const session = await startSession(em.url, fresh());
    const response = await exchange(session, {
      method: "PUT",
      headers: { "Content-Range": `bytes 0-${KIB256 - 1}/*` },
      body: data,
      chunked: true,
    });
    expect(response.ok && response.status).toBe(308);
    expect(response.headers?.range).toBe(`bytes=0-${KIB256 - 1}`);
  });

  it("holds the total to X-Upload-Content-Length and to the first stated total", async () => {
    const session = await startSession(em.url, fresh(), { headers: { "X-Upload-Content-Length": "300000" } });
    const wrong = await putChunk(session, 0, bytes(1000), 1000);
    expect(wrong.ok && wrong.status).toBe(400);
    // A `/*` chunk that reaches the declared length ends the upload.
    const name = fresh();
    const declared = await startSession(em.url, name, { headers: { "X-Upload-Content-Length": String(KIB256) } });
    const done = await putChunk(declared, 0, bytes(KIB256), "*");
    expect(done.ok && done.status).toBe(200);

    const stated = await startSession(em.url, fresh());
    await putChunk(stated, 0, bytes(KIB256), 3 * KIB256);
    const changed = await putChunk(stated, KIB256, bytes(KIB256), 4 * KIB256);
    expect(changed.ok && changed.status).toBe(400);
  });

  it("uploads a whole object with no Content-Range", async () => {
    const name = fresh();
    const session = await startSession(em.url, name);
    const response = await http(session, { method: "PUT", body: Buffer.from("whole") });
    expect(response.status).toBe(200);
    expect(em.getObject("bkt", name)!.size).toBe(5);
  });
});

describe("status queries and finalizing", () => {
  it("answers 308 without Range while nothing is persisted", async () => {
    const session = await startSession(em.url, fresh());
    const response = await query(session);
    expect(response.status).toBe(308);
    expect(response.headers.range).toBeUndefined();
    expect(response.body.length).toBe(0);
  });

  it("never finalizes an incomplete object, with */* or with a larger */N", async () => {
    const name = fresh();
    const session = await startSession(em.url, name);
    await putChunk(session, 0, bytes(KIB256), "*");
    for (const total of ["*", 10 * KIB256, "*", 10 * KIB256] as const) {
      const response = await query(session, total);
      expect(response.status).toBe(308);
      expect(response.headers.range).toBe(`bytes=0-${KIB256 - 1}`);
    }
    expect(em.getObject("bkt", name)).toBeUndefined();
  });

  it("finalizes an exact-multiple upload (bytes */N equal to the persisted offset) with 200", async () => {
    const data = bytes(2 * KIB256, 3);
    const name = fresh();
    const session = await startSession(em.url, name);
    await putChunk(session, 0, data, "*");
    const done = await putChunk(session, 0, Buffer.alloc(0), 2 * KIB256, { "X-Goog-Hash": `crc32c=${crc32cBase64(data)}` });
    expect(done.ok && done.status).toBe(200);
    expect(done.ok && done.json().size).toBe(String(2 * KIB256));
    expect(em.getObject("bkt", name)!.crc32c).toBe(crc32cBase64(data));
  });

  it("refuses bytes */N below the persisted offset", async () => {
    const session = await startSession(em.url, fresh());
    await putChunk(session, 0, bytes(2 * KIB256), "*");
    const response = await putChunk(session, 0, Buffer.alloc(0), KIB256);
    expect(response.ok && response.status).toBe(400);
  });

  it("creates a zero-byte object with bytes */0", async () => {
    const name = fresh();
    const session = await startSession(em.url, name);
    const response = await putChunk(session, 0, Buffer.alloc(0), 0);
    expect(response.ok && response.status).toBe(200);
    const object = em.getObject("bkt", name)!;
    expect(object.size).toBe(0);
    expect(object.crc32c).toBe("AAAAAA==");
    expect(object.md5Hash).toBe("1B2M2Y8AsgTpgAmY7PhCfg==");
  });

  it("answers 200 with the same object to any later request on a finalized session", async () => {
    const session = await startSession(em.url, fresh());
    const done = await putChunk(session, 0, Buffer.from("abc"), 3);
    const again = await putChunk(session, 0, Buffer.from("abc"), 3);
    const status = await exchange(session, { method: "PUT", headers: { "Content-Range": "bytes */*" }, body: Buffer.alloc(0) });
    expect(done.ok && again.ok && status.ok).toBe(true);
    if (done.ok && again.ok && status.ok) {
      expect(again.status).toBe(200);
      expect(status.status).toBe(200);
      expect(again.json()).toEqual(done.json());
      expect(status.json()).toEqual(done.json());
    }
  });
});

describe("end-to-end checksums", () => {
  it("accepts a matching X-Goog-Hash (crc32c and md5)", async () => {
    const data = bytes(1234);
    const session = await startSession(em.url, fresh());
    const response = await putChunk(session, 0, data, data.length, { "X-Goog-Hash": `crc32c=${crc32cBase64(data)},md5=${md5Base64(data)}` });
    expect(response.ok && response.status).toBe(200);
  });

  it.each([
    ["crc32c", (data: Buffer) => `crc32c=${crc32cBase64(Buffer.concat([data, Buffer.from("x")]))}`],
    ["md5", (data: Buffer) => `md5=${md5Base64(Buffer.from("other"))},crc32c=${crc32cBase64(data)}`],
  ])("refuses a mismatching X-Goog-Hash %s with 400: no object, the session stays open where it was", async (_label, hash) => {
    const data = bytes(KIB256 + 100, 9);
    const name = fresh();
    const session = await startSession(em.url, name);
    await putChunk(session, 0, data.subarray(0, KIB256), "*");
    const bad = await putChunk(session, KIB256, data.subarray(KIB256), data.length, { "X-Goog-Hash": hash(data) });
    expect(bad.ok && bad.status).toBe(400);
    expect(bad.ok && bad.json()).toMatchObject({ error: { code: 400, errors: [{ reason: "invalid", domain: "global" }] } });
    expect(em.getObject("bkt", name)).toBeUndefined();
    expect(persistedOf(await query(session))).toBe(KIB256);
    const good = await putChunk(session, KIB256, data.subarray(KIB256), data.length, { "X-Goog-Hash": `crc32c=${crc32cBase64(data)}` });
    expect(good.ok && good.status).toBe(200);
  });

  it("validates crc32c/md5Hash declared in the start body", async () => {
    const data = bytes(500);
    const name = fresh();
    const session = await startSession(em.url, name, { resource: { crc32c: crc32cBase64(Buffer.from("nope")) } });
    const bad = await putChunk(session, 0, data, data.length);
    expect(bad.ok && bad.status).toBe(400);
    expect(em.getObject("bkt", name)).toBeUndefined();
    const okSession = await startSession(em.url, fresh(), { resource: { crc32c: crc32cBase64(data), md5Hash: md5Base64(data) } });
    const good = await putChunk(okSession, 0, data, data.length);
    expect(good.ok && good.status).toBe(200);
  });

  it("refuses a malformed X-Goog-Hash with 400", async () => {
    const session = await startSession(em.url, fresh());
    const response = await putChunk(session, 0, Buffer.from("a"), 1, { "X-Goog-Hash": "crc32c=notbase64!" });
    expect(response.ok && response.status).toBe(400);
  });
});

describe("preconditions", () => {
  it("checks ifGenerationMatch=0 at session start and again at finalize (412)", async () => {
    const name = fresh();
    const early = await startSession(em.url, name, { query: "&ifGenerationMatch=0" });
    const late = await startSession(em.url, name, { query: "&ifGenerationMatch=0" });
    const first = await putChunk(early, 0, Buffer.from("one"), 3);
    expect(first.ok && first.status).toBe(200);
    // The object now exists: a new start fails at once, and the session started before fails at finalize.
    const start = await http(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=resumable&name=${name}&ifGenerationMatch=0`, {
      method: "POST",
      body: "{}",
    });
    expect(start.status).toBe(412);
    expect(start.json()).toMatchObject({ error: { code: 412, errors: [{ reason: "conditionNotMet" }] } });
    const second = await putChunk(late, 0, Buffer.from("two"), 3);
    expect(second.ok && second.status).toBe(412);
    expect(Buffer.from(em.getObject("bkt", name)!.data!).toString()).toBe("one");
  });

  it("honours ifGenerationMatch, ifGenerationNotMatch, ifMetagenerationMatch and ifMetagenerationNotMatch", async () => {
    const name = fresh();
    await putChunk(await startSession(em.url, name), 0, Buffer.from("v1"), 2);
    const generation = em.getObject("bkt", name)!.generation;
    const start = (q: string): Promise<number> =>
      http(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=resumable&name=${name}&${q}`, { method: "POST", body: "{}" }).then((r) => r.status);
    expect(await start(`ifGenerationMatch=${generation}`)).toBe(200);
    expect(await start("ifGenerationMatch=1")).toBe(412);
    expect(await start(`ifGenerationNotMatch=${generation}`)).toBe(412);
    expect(await start("ifGenerationNotMatch=1")).toBe(200);
    expect(await start("ifMetagenerationMatch=1")).toBe(200);
    expect(await start("ifMetagenerationMatch=2")).toBe(412);
    expect(await start("ifMetagenerationNotMatch=1")).toBe(412);
    expect(await start("ifMetagenerationNotMatch=2")).toBe(200);
    expect(await start("ifGenerationMatch=abc")).toBe(400);
    // On a name with no live object, only "must not exist" passes.
    const none = (q: string): Promise<number> =>
      http(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=resumable&name=${fresh()}&${q}`, { method: "POST", body: "{}" }).then((r) => r.status);
    expect(await none("ifGenerationMatch=0")).toBe(200);
    expect(await none("ifGenerationMatch=5")).toBe(412);
    expect(await none("ifMetagenerationMatch=1")).toBe(412);
  });
});

describe("cancel and expiry", () => {
  it("DELETE answers 499, then the session is 404", async () => {
    const session = await startSession(em.url, fresh());
    await putChunk(session, 0, bytes(KIB256), "*");
    const cancel = await http(session, { method: "DELETE" });
    expect(cancel.status).toBe(499);
    expect((await query(session)).status).toBe(404);
    const chunk = await putChunk(session, KIB256, bytes(10), KIB256 + 10);
    expect(chunk.ok && chunk.status).toBe(404);
    expect((await http(session, { method: "DELETE" })).status).toBe(404);
  });

  it("forgets a session after its time to live (410 Gone, every time after)", async () => {
    // A clock of our own: expiry must not depend on how fast a loaded machine answers.
    let clock = Date.now();
    const short = await startTestEmulator({ sessionTtlMs: 150, now: () => clock });
    try {
      const session = await startSession(short.url, "ttl");
      clock += 149;
      expect((await query(session)).status).toBe(308);
      clock += 1;
      const gone = await query(session);
      expect(gone.status).toBe(410);
      expect(gone.json()).toMatchObject({ error: { code: 410, errors: [{ reason: "gone" }] } });
      expect((await putChunk(session, 0, Buffer.from("x"), 1)).status).toBe(410);
      expect((await http(session, { method: "DELETE" })).status).toBe(410);
      expect(short.getUploadSession(session)).toBeUndefined();
    } finally {
      await short.stop();
    }
  });

  it("answers 404 to an unknown upload id", async () => {
    const response = await query(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=resumable&upload_id=nope`);
    expect(response.status).toBe(404);
  });
});

describe("persistence granularity when the client cuts the body", () => {
  it("keeps only the 256 KiB-aligned prefix of what arrived", async () => {
    const data = bytes(4 * KIB256, 5);
    const session = await startSession(em.url, fresh());
    const lines = em.lines.length;
    await sendAndCut(session, { headers: { "Content-Range": `bytes 0-${data.length - 1}/*` }, body: data, sent: 2 * KIB256 + 70_000 });
    await vi_waitFor(() => em.lines.slice(lines).some((line) => line.includes("cut by client")));
    const status = await query(session);
    expect(status.headers.range).toBe(`bytes=0-${2 * KIB256 - 1}`);
    expect(em.getUploadSession(session)).toMatchObject({ persisted: 2 * KIB256, state: "open" });
  });

  it("keeps nothing from a final chunk cut before the first 256 KiB boundary", async () => {
    const data = bytes(KIB256 - 1, 6);
    const name = fresh();
    const session = await startSession(em.url, name);
    const lines = em.lines.length;
    await sendAndCut(session, { headers: { "Content-Range": `bytes 0-${data.length - 1}/${data.length}` }, body: data, sent: 1000 });
    await vi_waitFor(() => em.lines.slice(lines).some((line) => line.includes("cut by client")));
    expect((await query(session)).headers.range).toBeUndefined();
    expect(em.getObject("bkt", name)).toBeUndefined();
  });
});

async function vi_waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
