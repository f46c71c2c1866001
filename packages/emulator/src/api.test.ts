import { createHash } from "node:crypto";
import { Agent } from "node:http";
import { describe, expect, it } from "vitest";
import {
  KIB256,
  bytes,
  crc32cBase64,
  exchange,
  http,
  md5Base64,
  putChunk,
  query,
  startSession,
  startTestEmulator,
  useTestEmulator,
} from "./test-support/raw-http.js";

const { em, fresh } = useTestEmulator("api-");

describe("buckets", () => {
  it("inserts and gets a bucket, refusing bad names and duplicates", async () => {
    const created = await http(`${em.url}/storage/v1/b?project=p`, { method: "POST", body: JSON.stringify({ name: "new-bucket" }) });
    expect(created.status).toBe(200);
    expect(created.json()).toMatchObject({ kind: "storage#bucket", name: "new-bucket", id: "new-bucket" });
    expect((await http(`${em.url}/storage/v1/b/new-bucket`)).json()).toMatchObject({ name: "new-bucket" });
    expect((await http(`${em.url}/storage/v1/b?project=p`, { method: "POST", body: JSON.stringify({ name: "new-bucket" }) })).status).toBe(409);
    for (const name of ["UPPER", "ab", "-dash", "192.168.1.1", "a..b"]) {
      expect((await http(`${em.url}/storage/v1/b`, { method: "POST", body: JSON.stringify({ name }) })).status, name).toBe(400);
    }
    expect((await http(`${em.url}/storage/v1/b/missing-bucket`)).status).toBe(404);
    expect(() => em.createBucket("NO")).toThrow(RangeError);
  });

  it("creates buckets on first use with autoCreateBuckets", async () => {
    const auto = await startTestEmulator({ autoCreateBuckets: true, buckets: [] });
    try {
      const session = await startSession(auto.url, "o", { bucket: "made-on-demand" });
      expect((await putChunk(session, 0, Buffer.from("x"), 1)).ok).toBe(true);
      expect(auto.listObjects("made-on-demand").map((object) => object.name)).toEqual(["o"]);
    } finally {
      await auto.stop();
    }
  });
});

describe("objects", () => {
  it("serves metadata, media (both paths), ranges, listings and deletion", async () => {
    const data = bytes(3000);
    const name = "dir/file name.bin";
    const session = await startSession(em.url, name, { resource: { contentType: "application/x-test", metadata: { a: "1" } } });
    const done = await putChunk(session, 0, data, data.length);
    expect(done.ok && done.status).toBe(200);
    const encoded = encodeURIComponent(name);
    const meta = await http(`${em.url}/storage/v1/b/bkt/o/${encoded}`);
    expect(meta.json()).toMatchObject({ name, size: "3000", contentType: "application/x-test", metadata: { a: "1" }, crc32c: crc32cBase64(data) });
    for (const url of [`${em.url}/storage/v1/b/bkt/o/${encoded}?alt=media`, `${em.url}/download/storage/v1/b/bkt/o/${encoded}?alt=media`, `${em.url}/bkt/dir/file%20name.bin`]) {
      const media = await http(url);
      expect(media.status, url).toBe(200);
      expect(media.body).toEqual(data);
      expect(media.headers["content-type"]).toBe("application/x-test");
      expect(media.headers["x-goog-hash"]).toBe(`crc32c=${crc32cBase64(data)},md5=${md5Base64(data)}`);
    }
    const ranged = await http(`${em.url}/storage/v1/b/bkt/o/${encoded}?alt=media`, { headers: { Range: "bytes=100-199" } });
    expect(ranged.status).toBe(206);
    expect(ranged.body).toEqual(data.subarray(100, 200));
    expect(ranged.headers["content-range"]).toBe("bytes 100-199/3000");
    const listed = (await http(`${em.url}/storage/v1/b/bkt/o?prefix=dir/`)).json<{ items: { name: string }[] }>();
    expect(listed.items.map((item) => item.name)).toEqual([name]);
    expect((await http(`${em.url}/storage/v1/b/bkt/o/${encoded}`, { method: "DELETE" })).status).toBe(204);
    expect((await http(`${em.url}/storage/v1/b/bkt/o/${encoded}`)).status).toBe(404);
  });

  it("replaces an object with a new, larger generation", async () => {
    const name = fresh();
    await putChunk(await startSession(em.url, name), 0, Buffer.from("one"), 3);
    const first = em.getObject("bkt", name)!.generation;
    await putChunk(await startSession(em.url, name), 0, Buffer.from("two!"), 4);
    const second = em.getObject("bkt", name)!;
    expect(BigInt(second.generation) > BigInt(first)).toBe(true);
    expect(second.size).toBe(4);
  });

  it("answers unknown routes with JSON errors", async () => {
    const response = await http(`${em.url}/nothing/here/at/all`, { method: "PATCH" });
    expect(response.status).toBe(400);
    const unknown = await http(`${em.url}/storage/v2/x`);
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 404 } });
  });
});

describe("XML API start (signed URL)", () => {
  it("answers 201 + Location, and chunks to that Location behave the same", async () => {
    const data = bytes(KIB256 + 10);
    const start = await http(`${em.url}/bkt/xml/obj.txt?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=abc&X-Goog-Expires=600`, {
      method: "POST",
      headers: { "x-goog-resumable": "start", "Content-Type": "text/plain", "x-goog-meta-color": "blue" },
    });
    expect(start.status).toBe(201);
    const location = String(start.headers.location);
    expect(location).toMatch(new RegExp(`^${em.url}/bkt/xml/obj.txt\\?upload_id=`));
    const tooSmall = await putChunk(location, 0, data.subarray(0, 1000), "*");
    expect(tooSmall.ok && tooSmall.status).toBe(400);
    expect((await query(location)).headers.range).toBeUndefined();
    const first = await putChunk(location, 0, data.subarray(0, KIB256), "*");
    expect(first.headers?.range).toBe(`bytes=0-${KIB256 - 1}`);
    const last = await putChunk(location, KIB256, data.subarray(KIB256), data.length);
    expect(last.ok && last.status).toBe(200);
    const object = em.getObject("bkt", "xml/obj.txt")!;
    expect(object).toMatchObject({ size: data.length, contentType: "text/plain", metadata: { color: "blue" } });
    const cancelled = await http(`${em.url}/bkt/x2?sig=1`, { method: "POST", headers: { "x-goog-resumable": "start" } });
    expect((await http(String(cancelled.headers.location), { method: "DELETE" })).status).toBe(499);
  });

  it("honours x-goog-if-generation-match", async () => {
    const name = fresh();
    await putChunk(await startSession(em.url, name), 0, Buffer.from("x"), 1);
    const start = await http(`${em.url}/bkt/${name}`, { method: "POST", headers: { "x-goog-resumable": "start", "x-goog-if-generation-match": "0" } });
    expect(start.status).toBe(412);
  });

  it("refuses a POST without x-goog-resumable: start", async () => {
    expect((await http(`${em.url}/bkt/plain`, { method: "POST", body: "x" })).status).toBe(400);
  });
});

describe("CORS", () => {
  const origin = "https://app.example";

  it("echoes Origin and exposes Range and Location", async () => {
    const start = await http(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=resumable&name=${fresh()}`, {
      method: "POST",
      headers: { Origin: origin },
      body: "{}",
    });
    expect(start.headers["access-control-allow-origin"]).toBe(origin);
    const exposed = String(start.headers["access-control-expose-headers"]).split(", ");
    for (const header of ["Range", "Location", "X-GUploader-UploadID", "Content-Length"]) expect(exposed).toContain(header);
    const status = await query(String(start.headers.location), "*", { Origin: origin });
    expect(status.headers["access-control-allow-origin"]).toBe(origin);
  });

  it("answers a preflight with methods and the requested headers", async () => {
    const response = await http(`${em.url}/upload/storage/v1/b/bkt/o?upload_id=x`, {
      method: "OPTIONS",
      headers: { Origin: origin, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-range,x-goog-hash" },
    });
    expect(response.status).toBe(200);
    expect(response.headers["access-control-allow-origin"]).toBe(origin);
    expect(response.headers["access-control-allow-methods"]).toContain("PUT");
    expect(response.headers["access-control-allow-headers"]).toBe("content-range,x-goog-hash");
  });

  it("a session remembers the Origin it was created with", async () => {
    const session = await startSession(em.url, fresh(), { headers: { Origin: origin } });
    const other = await query(session, "*", { Origin: "https://elsewhere.example" });
    expect(other.headers["access-control-allow-origin"]).toBe(origin);
    const preflight = await http(session, { method: "OPTIONS", headers: { Origin: "https://elsewhere.example" } });
    expect(preflight.headers["access-control-allow-origin"]).toBe(origin);
  });
});

describe("customer-supplied encryption keys", () => {
  const key = Buffer.alloc(32, 5);
  const csek = {
    "x-goog-encryption-algorithm": "AES256",
    "x-goog-encryption-key": key.toString("base64"),
    "x-goog-encryption-key-sha256": createHash("sha256").update(key).digest("base64"),
  };

  it("refuses a key whose SHA-256 does not match", async () => {
    const response = await http(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=resumable&name=${fresh()}`, {
      method: "POST",
      headers: { ...csek, "x-goog-encryption-key-sha256": createHash("sha256").update("other").digest("base64") },
      body: "{}",
    });
    expect(response.status).toBe(400);
  });

  it("requires the same headers on every request of the session: chunks, queries, DELETE", async () => {
    const data = bytes(KIB256 + 1);
    const name = fresh();
    const session = await startSession(em.url, name, { headers: csek });
    expect((await putChunk(session, 0, data.subarray(0, KIB256), "*")).status).toBe(400);
    expect((await query(session)).status).toBe(400);
    expect((await http(session, { method: "DELETE" })).status).toBe(400);
    const otherKey = Buffer.alloc(32, 6);
    const wrong = {
      ...csek,
      "x-goog-encryption-key": otherKey.toString("base64"),
      "x-goog-encryption-key-sha256": createHash("sha256").update(otherKey).digest("base64"),
    };
    expect((await query(session, "*", wrong)).status).toBe(400);
    expect((await putChunk(session, 0, data.subarray(0, KIB256), "*", csek)).headers?.range).toBe(`bytes=0-${KIB256 - 1}`);
    expect((await query(session, "*", csek)).status).toBe(308);
    const done = await putChunk(session, KIB256, data.subarray(KIB256), data.length, csek);
    expect(done.ok && done.json()).toMatchObject({ customerEncryption: { encryptionAlgorithm: "AES256", keySha256: csek["x-goog-encryption-key-sha256"] } });
    expect((await http(`${em.url}/storage/v1/b/bkt/o/${name}?alt=media`)).status).toBe(400);
    expect((await http(`${em.url}/storage/v1/b/bkt/o/${name}?alt=media`, { headers: csek })).body).toEqual(data);
    // A session started without a key refuses one later.
    const plain = await startSession(em.url, fresh());
    expect((await query(plain, "*", csek)).status).toBe(400);
  });
});

describe("connections and timing", () => {
  it("serves many requests over one keep-alive connection", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const sockets = new Set<unknown>();
      agent.on("free", (socket) => sockets.add(socket));
      const session = await startSession(em.url, fresh());
      for (let i = 0; i < 4; i++) {
        const response = await exchange(session, {
          method: "PUT",
          agent,
          headers: { "Content-Range": `bytes ${i * KIB256}-${(i + 1) * KIB256 - 1}/*` },
          body: bytes(KIB256, i + 1),
        });
        expect(response.ok && response.status).toBe(308);
      }
      const status = await exchange(session, { method: "PUT", agent, headers: { "Content-Range": "bytes */*" }, body: Buffer.alloc(0) });
      expect(status.ok && status.headers.range).toBe(`bytes=0-${4 * KIB256 - 1}`);
      expect(sockets.size).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it("answers Expect: 100-continue before the client sends the body", async () => {
    const session = await startSession(em.url, fresh());
    const { request } = await import("node:http");
    const status = await new Promise<{ status: number; range: unknown; continued: boolean }>((resolve, reject) => {
      let continued = false;
      const req = request(session, {
        method: "PUT",
        agent: false,
        headers: { Expect: "100-continue", "Content-Range": `bytes 0-${KIB256 - 1}/*`, "Content-Length": String(KIB256) },
      });
      req.on("continue", () => {
        continued = true;
        req.end(bytes(KIB256));
      });
      req.on("response", (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, range: res.headers.range, continued });
      });
      req.on("error", reject);
      req.flushHeaders();
    });
    expect(status).toEqual({ status: 308, range: `bytes=0-${KIB256 - 1}`, continued: true });
  });

  it("delays every response by latencyMs", async () => {
    const slow = await startTestEmulator({ latencyMs: 120 });
    try {
      const started = Date.now();
      const session = await startSession(slow.url, "lat");
      await query(session);
      expect(Date.now() - started).toBeGreaterThanOrEqual(230);
    } finally {
      await slow.stop();
    }
  });

  it("stop() ends open keep-alive sockets and pending stalls promptly", async () => {
    const short = await startTestEmulator();
    const agent = new Agent({ keepAlive: true });
    try {
      const session = await startSession(short.url, "s");
      await exchange(session, { method: "PUT", agent, headers: { "Content-Range": "bytes */*" }, body: Buffer.alloc(0) });
      const id = short.registerFaults({ "storage.objects.insert": ["stall-for-30s-after-0K"] });
      const stalled = exchange(session, { method: "PUT", headers: { "Content-Range": "bytes */*", "x-retry-test-id": id }, body: Buffer.alloc(0) });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const started = Date.now();
      await short.stop();
      expect((await stalled).ok).toBe(false);
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      agent.destroy();
      await short.stop();
    }
  });
});

describe("discard storage", () => {
  it("keeps size and checksums but not the bytes", async () => {
    const discard = await startTestEmulator({ storage: "discard" });
    try {
      const data = bytes(5 * KIB256 + 77, 21);
      const session = await startSession(discard.url, "big");
      let offset = 0;
      while (offset < data.length) {
        const end = Math.min(offset + 2 * KIB256 + 1000, data.length);
        const response = await putChunk(session, offset, data.subarray(offset, end), end === data.length ? data.length : "*");
        if (response.ok && response.status === 200) break;
        offset = Number(String(response.headers?.range).split("-")[1]) + 1;
      }
      const object = discard.getObject("bkt", "big")!;
      expect(object).toMatchObject({ size: data.length, crc32c: crc32cBase64(data), md5Hash: md5Base64(data) });
      expect(object.data).toBeUndefined();
      expect((await http(`${discard.url}/storage/v1/b/bkt/o/big?alt=media`)).status).toBe(501);
      expect((await http(`${discard.url}/storage/v1/b/bkt/o/big`)).json()).toMatchObject({ size: String(data.length) });
    } finally {
      await discard.stop();
    }
  });

  it("streams a 64 MiB single-request upload with checksums", async () => {
    const discard = await startTestEmulator({ storage: "discard" });
    try {
      const block = bytes(1024 * 1024, 3);
      const { request } = await import("node:http");
      const session = await startSession(discard.url, "stream");
      const total = 64 * block.length;
      const response = await new Promise<number>((resolve, reject) => {
        const req = request(session, {
          method: "PUT",
          agent: false,
          headers: { "Content-Range": `bytes 0-${total - 1}/${total}`, "Content-Length": String(total) },
        });
        req.on("response", (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        let i = 0;
        const pump = (): void => {
          while (i < 64) {
            i++;
            if (!req.write(block)) {
              req.once("drain", pump);
              return;
            }
          }
          req.end();
        };
        pump();
      });
      expect(response).toBe(200);
      const hash = createHash("md5");
      for (let i = 0; i < 64; i++) hash.update(block);
      expect(discard.getObject("bkt", "stream")).toMatchObject({ size: total, md5Hash: hash.digest("base64") });
    } finally {
      await discard.stop();
    }
  });
});
