import { describe, expect, it } from "vitest";
import { UploadError, UsageError, ValidationError } from "./errors.js";
import { UploadMachine } from "./machine.js";
import {
  CHUNK,
  SESSION,
  bodyOf,
  bytesOf,
  crcB64,
  drainEvents,
  expectAction,
  expectSend,
  md5B64,
  nodeChecksums,
  options,
  r308,
  rObject,
  rStart,
  rStatus,
  started,
} from "./harness.test-utils.js";
import { seededRandom } from "./test-support/random.js";

const KEY = { key: Buffer.alloc(32, 7).toString("base64"), sha256: Buffer.alloc(32, 9).toString("base64") };
const CSEK = {
  "x-goog-encryption-algorithm": "AES256",
  "x-goog-encryption-key": KEY.key,
  "x-goog-encryption-key-sha256": KEY.sha256,
};

function json(body: Uint8Array): unknown {
  return JSON.parse(Buffer.from(body).toString("utf8"));
}

describe("starting a session", () => {
  it("JSON API: POST to the upload endpoint with the object resource, then 200 + Location", () => {
    const machine = new UploadMachine(options({ target: { kind: "json", bucket: "bkt", name: "obj" }, wallClock: () => Date.UTC(2026, 11, 1, 9, 30, 15, 42) }));
    expect(machine.state).toBe("starting");
    const start = expectSend(machine);
    expect(start).toMatchObject({ type: "send", id: 1, purpose: "start", idleTimeoutMs: 60_000 });
    expect(start.request.method).toBe("POST");
    expect(start.request.url).toBe("https://storage.googleapis.com/upload/storage/v1/b/bkt/o?uploadType=resumable&name=obj");
    expect(start.request.headers).toEqual({ "content-type": "application/json; charset=UTF-8", "content-length": String(start.request.bodyLength) });
    expect(json(bodyOf(start))).toEqual({ name: "obj" });
    expect(machine.sessionUri).toBeUndefined();
    expect(machine.checkpoint()).toBeUndefined();

    machine.onResponse(start.id, rStart(), 1234);
    expect(machine.sessionUri).toBe(SESSION);
    expect(machine.state).toBe("uploading");
    expect(expectAction(machine, "need-data")).toEqual({ type: "need-data" });
    const events = drainEvents(machine);
    expect(events).toEqual([
      {
        type: "session",
        sessionUri: SESSION,
        checkpoint: {
          version: 2,
          sessionUri: SESSION,
          resumeOffset: 0,
          crc32c: 0,
          chunkSize: CHUNK,
          fingerprint: expect.stringMatching(/^fnv1a64:[0-9a-f]{16}$/) as unknown,
          createdAt: "2026-12-01T09:30:15.042Z",
          integrity: expect.stringMatching(/^fnv1a64:[0-9a-f]{16}$/) as unknown,
        },
      },
    ]);
  });

  it("encodes the object name and the bucket in the URL", () => {
    const name = "a/b c?d#e&f=g+h%é😀";
    const machine = new UploadMachine(options({ target: { kind: "json", bucket: "my_bucket.example-1", name } }));
    const start = expectSend(machine);
    expect(start.request.url).toBe(
      `https://storage.googleapis.com/upload/storage/v1/b/my_bucket.example-1/o?uploadType=resumable&name=${encodeURIComponent(name)}`,
    );
    expect(start.request.url).toContain("name=a%2Fb%20c%3Fd%23e%26f%3Dg%2Bh%25%C3%A9%F0%9F%98%80");
    expect(json(bodyOf(start))).toEqual({ name });
    expect(Number(start.request.headers["content-length"])).toBe(Buffer.byteLength(JSON.stringify({ name }), "utf8"));
  });

  it("sends every metadata field, precondition and option users expect", () => {
    const machine = new UploadMachine(
      options({
        target: {
          kind: "json",
          bucket: "bkt",
          name: "dir/report.pdf",
          endpoint: "http://127.0.0.1:9023/",
          metadata: {
            contentType: "application/pdf",
            contentEncoding: "gzip",
            contentDisposition: 'attachment; filename="r.pdf"',
            contentLanguage: "en",
            cacheControl: "no-cache",
            customTime: "2030-01-01T00:00:00Z",
            storageClass: "NEARLINE",
            temporaryHold: true,
            eventBasedHold: false,
            crc32c: "AAAAAA==",
            md5Hash: "1B2M2Y8AsgTpgAmY7PhCfg==",
            metadata: { owner: "ops", "x-ü": "ß" },
          },
          ifGenerationMatch: 0,
          ifGenerationNotMatch: "1700000000000001",
          ifMetagenerationMatch: 3,
          ifMetagenerationNotMatch: 4,
          predefinedAcl: "bucketOwnerFullControl",
          kmsKeyName: "projects/p/locations/l/keyRings/r/cryptoKeys/k",
          userProject: "billing-project",
        },
        totalSize: 1000,
        origin: "https://app.example",
        extraHeaders: { "X-Goog-User-Project": "billing-project", "x-trace": "abc" },
        userAgent: "my-app/1.0",
        encryptionKey: KEY,
      }),
    );
    const start = expectSend(machine);
    expect(start.request.url).toBe(
      "http://127.0.0.1:9023/upload/storage/v1/b/bkt/o?uploadType=resumable&name=dir%2Freport.pdf" +
        "&ifGenerationMatch=0&ifGenerationNotMatch=1700000000000001&ifMetagenerationMatch=3&ifMetagenerationNotMatch=4" +
        "&predefinedAcl=bucketOwnerFullControl&kmsKeyName=projects%2Fp%2Flocations%2Fl%2FkeyRings%2Fr%2FcryptoKeys%2Fk&userProject=billing-project",
    );
    expect(start.request.headers).toEqual({
      "content-type": "application/json; charset=UTF-8",
      "content-length": String(start.request.bodyLength),
      "x-upload-content-type": "application/pdf",
      "x-upload-content-length": "1000",
      origin: "https://app.example",
      "x-goog-user-project": "billing-project",
      "x-trace": "abc",
      "user-agent": "my-app/1.0",
      ...CSEK,
    });
    expect(json(bodyOf(start))).toEqual({
      name: "dir/report.pdf",
      contentType: "application/pdf",
      contentEncoding: "gzip",
      contentDisposition: 'attachment; filename="r.pdf"',
      contentLanguage: "en",
      cacheControl: "no-cache",
      customTime: "2030-01-01T00:00:00Z",
      storageClass: "NEARLINE",
      temporaryHold: true,
      eventBasedHold: false,
      crc32c: "AAAAAA==",
      md5Hash: "1B2M2Y8AsgTpgAmY7PhCfg==",
      metadata: { owner: "ops", "x-ü": "ß" },
    });
  });

  it("states X-Upload-Content-Length when end() came before the start was sent", () => {
    const machine = new UploadMachine(options());
    machine.write(new Uint8Array(10));
    machine.end();
    expect(expectSend(machine).request.headers["x-upload-content-length"]).toBe("10");
  });

  it("signed URL: POST with x-goog-resumable: start, expects 201 + Location", () => {
    const url = "https://storage.googleapis.com/bkt/obj?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=abcdef";
    const machine = new UploadMachine(options({ target: { kind: "signed-url", url, contentType: "text/plain" }, origin: "https://app.example" }));
    const start = expectSend(machine);
    expect(start.request).toEqual({
      method: "POST",
      url,
      headers: { "x-goog-resumable": "start", "content-length": "0", "content-type": "text/plain", origin: "https://app.example" },
      body: [],
      bodyLength: 0,
    });
    const xmlSession = "https://storage.googleapis.com/bkt/obj?upload_id=XmlSessionId0123456789";
    machine.onResponse(start.id, { status: 201, headers: { location: xmlSession }, body: "" }, 0);
    expect(machine.sessionUri).toBe(xmlSession);
    machine.write(new Uint8Array([1, 2, 3]));
    machine.end();
    const final = expectSend(machine);
    expect(final.request.url).toBe(xmlSession);
    expect(final.request.headers["content-range"]).toBe("bytes 0-2/3");
    // The XML API answers the final request with an empty body and x-goog-* headers.
    const content = new Uint8Array([1, 2, 3]);
    machine.onResponse(
      final.id,
      { status: 200, headers: { "x-goog-hash": `crc32c=${crcB64(content)},md5=${md5B64(content)}`, "x-goog-stored-content-length": "3", "x-goog-generation": "5" }, body: "" },
      0,
    );
    expect(expectAction(machine, "done").object).toEqual({ size: "3", generation: "5", crc32c: crcB64(content), md5Hash: md5B64(content) });
  });

  it("session minted elsewhere: begins with a status query, then continues from its answer", () => {
    const machine = new UploadMachine(options({ target: { kind: "session", sessionUri: SESSION } }));
    expect(machine.state).toBe("resuming");
    expect(drainEvents(machine)).toMatchObject([{ type: "session", sessionUri: SESSION, checkpoint: { resumeOffset: 0 } }]);
    const query = expectSend(machine);
    expect(query.purpose).toBe("query");
    expect(query.request).toEqual({ method: "PUT", url: SESSION, headers: { "content-length": "0", "content-range": "bytes */*" }, body: [], bodyLength: 0 });
    machine.onResponse(query.id, r308(), 0);
    expect(drainEvents(machine)).toEqual([{ type: "resumed", checkpointOffset: 0, serverOffset: 0, md5Skipped: false }]);
    const content = bytesOf(CHUNK + 5);
    machine.write(content);
    expect(expectSend(machine).request.headers["content-range"]).toBe(`bytes 0-${CHUNK - 1}/*`);
  });

  it("a start answered without Location is a protocol violation", () => {
    const machine = new UploadMachine(options());
    const start = expectSend(machine);
    machine.onResponse(start.id, { status: 200, headers: {}, body: "" }, 0);
    const failed = expectAction(machine, "failed");
    expect(failed.error).toBeInstanceOf(UploadError);
    expect(failed.error.code).toBe("protocol-violation");
    expect(failed.error.message).toMatch(/expected 200 with a Location header .*came none/);
    const again = new UploadMachine(options());
    const s2 = expectSend(again);
    again.onResponse(s2.id, { status: 200, headers: { location: "/relative" }, body: "" }, 0);
    expect(expectAction(again, "failed").error.code).toBe("protocol-violation");
  });

  it("a transient start failure retries the start (not a query); a 4xx ends it", () => {
    const machine = new UploadMachine(options());
    const s1 = expectSend(machine, 0);
    machine.onResponse(s1.id, rStatus(503, "backend unavailable"), 0);
    expect(drainEvents(machine)).toMatchObject([{ type: "retry", attempt: 1, delayMs: 1000, error: { code: "transient", status: 503, serverMessage: "backend unavailable" } }]);
    expect(expectAction(machine, "wait", 10)).toEqual({ type: "wait", until: 1000 });
    const s2 = expectSend(machine, 1000);
    expect(s2.purpose).toBe("start");
    machine.onError(s2.id, { kind: "network", cause: new Error("ECONNRESET") }, 1000);
    const s3 = expectSend(machine, 3000);
    expect(s3.purpose).toBe("start");
    machine.onResponse(s3.id, rStatus(403, "no permission"), 3000);
    const error = expectAction(machine, "failed").error;
    expect(error).toMatchObject({ code: "unauthorized", status: 403, serverMessage: "no permission", retryable: false });
    expect(error.sessionId).toBeUndefined();
  });

  it.each([
    [412, "precondition-failed"],
    [401, "unauthorized"],
    [400, "bad-request"],
    [404, "bad-request"],
    [409, "bad-request"],
  ] as const)("a start answered %i fails with %s", (status, code) => {
    const machine = new UploadMachine(options());
    const start = expectSend(machine);
    machine.onResponse(start.id, rStatus(status, `server says ${status}`), 0);
    expect(expectAction(machine, "failed").error).toMatchObject({ code, status, serverMessage: `server says ${status}` });
  });

  it("sends the customer-supplied key headers on every request: start, chunks, queries, finalize, DELETE", () => {
    const machine = new UploadMachine(options({ encryptionKey: KEY }));
    const start = expectSend(machine);
    expect(start.request.headers).toMatchObject(CSEK);
    machine.onResponse(start.id, rStart(), 0);
    machine.write(bytesOf(CHUNK + 1));
    const chunk = expectSend(machine);
    expect(chunk.request.headers).toEqual({ "content-length": String(CHUNK), "content-range": `bytes 0-${CHUNK - 1}/*`, ...CSEK });
    machine.onError(chunk.id, { kind: "network" }, 0);
    const query = expectSend(machine, 1000);
    expect(query.request.headers).toEqual({ "content-length": "0", "content-range": "bytes */*", ...CSEK });
    machine.onResponse(query.id, r308(CHUNK), 1000);
    machine.end();
    const final = expectSend(machine, 1000);
    expect(final.request.headers).toMatchObject({ "content-range": `bytes ${CHUNK}-${CHUNK}/${CHUNK + 1}`, ...CSEK });
    machine.cancel();
    machine.onError(final.id, { kind: "aborted" }, 1000);
    const del = expectSend(machine, 1000);
    expect(del.request).toEqual({ method: "DELETE", url: SESSION, headers: { "content-length": "0", ...CSEK }, body: [], bodyLength: 0 });
  });
});

describe("sending bytes", () => {
  it("sends only full chunks with /* until end(), then the final chunk with the total and X-Goog-Hash", () => {
    const machine = new UploadMachine(options({ checksum: "both" }));
    started(machine);
    const content = bytesOf(2 * CHUNK + 100);
    // Odd-sized writes: the machine assembles full chunks from views, never a short non-final one.
    let offset = 0;
    for (const size of [100_000, 100_000, 100_000]) {
      machine.write(content.subarray(offset, offset + size));
      offset += size;
    }
    const c1 = expectSend(machine);
    expect(c1.purpose).toBe("chunk");
    expect(c1.request.headers).toEqual({ "content-length": String(CHUNK), "content-range": `bytes 0-${CHUNK - 1}/*` });
    expect(c1.request.bodyLength).toBe(CHUNK);
    expect(bodyOf(c1)).toEqual(Buffer.from(content.subarray(0, CHUNK)));
    // Views onto the caller's buffer, not copies.
    for (const view of c1.request.body) expect(view.buffer).toBe(content.buffer);
    expect(machine.poll(0)).toEqual({ type: "in-flight" });
    machine.onResponse(c1.id, r308(CHUNK), 0);
    expect(machine.bytesPersisted).toBe(CHUNK);
    expect(expectAction(machine, "need-data")).toEqual({ type: "need-data" }); // 300000 - 262144 < a chunk
    machine.write(content.subarray(offset));
    const c2 = expectSend(machine);
    expect(c2.request.headers["content-range"]).toBe(`bytes ${CHUNK}-${2 * CHUNK - 1}/*`);
    expect(c2.request.headers["x-goog-hash"]).toBeUndefined();
    machine.onResponse(c2.id, r308(2 * CHUNK), 0);
    expect(expectAction(machine, "need-data").type).toBe("need-data");
    machine.end();
    const final = expectSend(machine);
    expect(final.purpose).toBe("finalize");
    expect(final.request.headers).toEqual({
      "content-length": "100",
      "content-range": `bytes ${2 * CHUNK}-${2 * CHUNK + 99}/${2 * CHUNK + 100}`,
      "x-goog-hash": `crc32c=${crcB64(content)},md5=${md5B64(content)}`,
    });
    machine.onResponse(final.id, rObject(content), 0);
    const done = expectAction(machine, "done");
    expect(done.object.size).toBe(String(content.length));
    expect(machine.bytesBuffered).toBe(0);
    expect(machine.checkpoint()).toBeUndefined();
  });

  it("a known total is stated on every chunk, and the chunk reaching it waits for end()", () => {
    const content = bytesOf(2 * CHUNK);
    const machine = new UploadMachine(options({ totalSize: content.length }));
    const start = expectSend(machine);
    expect(start.request.headers["x-upload-content-length"]).toBe(String(content.length));
    machine.onResponse(start.id, rStart(), 0);
    machine.write(content);
    const c1 = expectSend(machine);
    expect(c1.request.headers["content-range"]).toBe(`bytes 0-${CHUNK - 1}/${2 * CHUNK}`);
    expect(c1.request.headers["x-goog-hash"]).toBeUndefined();
    machine.onResponse(c1.id, r308(CHUNK), 0);
    // Every byte is written, but only end() may finalize.
    expect(machine.wantsData).toBe(true);
    expect(expectAction(machine, "need-data").type).toBe("need-data");
    machine.end();
    const final = expectSend(machine);
    expect(final.request.headers).toEqual({
      "content-length": String(CHUNK),
      "content-range": `bytes ${CHUNK}-${2 * CHUNK - 1}/${2 * CHUNK}`,
      "x-goog-hash": `crc32c=${crcB64(content)}`,
    });
  });

  it("an exact-multiple ending: the last full chunk waits for a byte beyond it, then end() makes it final", () => {
    const content = bytesOf(2 * CHUNK);
    const machine = new UploadMachine(options());
    started(machine);
    machine.write(content.subarray(0, CHUNK));
    // A full chunk and not one byte more: it may be the last one, so it is held.
    expect(machine.wantsData).toBe(true);
    expect(expectAction(machine, "need-data").type).toBe("need-data");
    machine.write(content.subarray(CHUNK));
    const c1 = expectSend(machine);
    expect(c1.request.headers["content-range"]).toBe(`bytes 0-${CHUNK - 1}/*`);
    machine.onResponse(c1.id, r308(CHUNK), 0);
    expect(machine.wantsData).toBe(true);
    expect(expectAction(machine, "need-data").type).toBe("need-data");
    machine.end();
    const final = expectSend(machine);
    expect(final.purpose).toBe("finalize");
    expect(final.request.headers).toEqual({
      "content-length": String(CHUNK),
      "content-range": `bytes ${CHUNK}-${2 * CHUNK - 1}/${2 * CHUNK}`,
      "x-goog-hash": `crc32c=${crcB64(content)}`,
    });
    machine.onResponse(final.id, rObject(content), 0);
    expect(machine.poll(0).type).toBe("done");
  });

  it("an exact-multiple upload takes one request per chunk: no empty finalize", () => {
    const content = bytesOf(4 * CHUNK);
    const machine = new UploadMachine(options());
    started(machine);
    const ranges: string[] = [];
    let offset = 0;
    for (;;) {
      while (machine.wantsData && offset < content.length) {
        machine.write(content.subarray(offset, offset + 65_536));
        offset += 65_536;
      }
      const action = machine.poll(0);
      if (action.type === "need-data") {
        machine.end();
        continue;
      }
      if (action.type === "done") break;
      if (action.type !== "send") throw new Error(action.type);
      ranges.push(action.request.headers["content-range"]!);
      machine.onResponse(action.id, action.purpose === "finalize" ? rObject(content) : r308(machine.bytesSent), 0);
    }
    expect(ranges).toEqual([`bytes 0-${CHUNK - 1}/*`, `bytes ${CHUNK}-${2 * CHUNK - 1}/*`, `bytes ${2 * CHUNK}-${3 * CHUNK - 1}/*`, `bytes ${3 * CHUNK}-${4 * CHUNK - 1}/${4 * CHUNK}`]);
  });

  it("a session that already holds every byte is finalized with an empty bytes */N request", () => {
    const content = bytesOf(2 * CHUNK);
    // A session minted elsewhere (or restored) whose earlier client sent everything with /* but
    // never finalized: once end() decides the total, only the empty finalize is left to send.
    const machine = new UploadMachine(options({ target: { kind: "session", sessionUri: SESSION } }));
    drainEvents(machine);
    const query = expectSend(machine);
    machine.onResponse(query.id, r308(2 * CHUNK), 0);
    machine.write(content);
    expect(machine.bytesBuffered).toBe(0); // absorbed into the checksum, never resent
    expect(expectAction(machine, "need-data").type).toBe("need-data");
    machine.end();
    const final = expectSend(machine);
    expect(final.purpose).toBe("finalize");
    expect(final.request).toEqual({
      method: "PUT",
      url: SESSION,
      headers: { "content-length": "0", "content-range": `bytes */${2 * CHUNK}`, "x-goog-hash": `crc32c=${crcB64(content)}` },
      body: [],
      bodyLength: 0,
    });
    machine.onResponse(final.id, rObject(content), 0);
    expect(machine.poll(0).type).toBe("done");
  });

  it("a zero-byte object is bytes */0 with an empty body", () => {
    const machine = new UploadMachine(options({ checksum: "both" }));
    started(machine);
    machine.end();
    const final = expectSend(machine);
    expect(final.request.headers).toEqual({ "content-length": "0", "content-range": "bytes */0", "x-goog-hash": "crc32c=AAAAAA==,md5=1B2M2Y8AsgTpgAmY7PhCfg==" });
    machine.onResponse(final.id, rObject(new Uint8Array(0)), 0);
    expect(machine.poll(0).type).toBe("done");
  });

  it("end of data is decided only by end(): short writes and long pauses never finalize", () => {
    const machine = new UploadMachine(options());
    started(machine);
    machine.write(new Uint8Array(10));
    for (let now = 0; now < 1e9; now += 1e8) expect(machine.poll(now)).toEqual({ type: "need-data" });
    machine.write(new Uint8Array(CHUNK - 11));
    expect(machine.poll(0)).toEqual({ type: "need-data" });
    machine.write(new Uint8Array(1));
    for (let now = 0; now < 1e9; now += 1e8) expect(machine.poll(now)).toEqual({ type: "need-data" }); // a full chunk: it may be the last
    machine.write(new Uint8Array(1));
    expect(expectSend(machine).request.headers["content-range"]).toBe(`bytes 0-${CHUNK - 1}/*`);
  });

  it("bigger chunk sizes send exactly chunkSize per non-final request", () => {
    const machine = new UploadMachine(options({ chunkSize: 4 * CHUNK }));
    started(machine);
    machine.write(bytesOf(9 * CHUNK));
    const c1 = expectSend(machine);
    expect(c1.request.headers["content-range"]).toBe(`bytes 0-${4 * CHUNK - 1}/*`);
    machine.onResponse(c1.id, r308(4 * CHUNK), 0);
    expect(expectSend(machine).request.headers["content-range"]).toBe(`bytes ${4 * CHUNK}-${8 * CHUNK - 1}/*`);
  });

  it("checksum md5 only, and none", () => {
    const content = bytesOf(1000);
    const md5 = new UploadMachine(options({ checksum: "md5" }));
    started(md5);
    md5.write(content);
    md5.end();
    expect(expectSend(md5).request.headers["x-goog-hash"]).toBe(`md5=${md5B64(content)}`);
    const none = new UploadMachine(options({ checksum: "none" }));
    started(none);
    none.write(content);
    none.end();
    const final = expectSend(none);
    expect(final.request.headers["x-goog-hash"]).toBeUndefined();
    none.onResponse(final.id, rObject(content, { crc32c: "AAAAAA==" }), 0); // nothing to compare with
    expect(none.poll(0).type).toBe("done");
    expect(none.checkpoint()).toBeUndefined();
    const noProvider = new UploadMachine(options({ checksums: undefined }));
    started(noProvider);
    noProvider.end();
    expect(expectSend(noProvider).request.headers["x-goog-hash"]).toBeUndefined();
  });
});

describe("responses", () => {
  function uploadingWith(content: Uint8Array, opts = options()): UploadMachine {
    const machine = new UploadMachine(opts);
    started(machine);
    machine.write(content);
    return machine;
  }

  it("308 with Range means N+1 bytes persisted", () => {
    const machine = uploadingWith(bytesOf(3 * CHUNK));
    const c1 = expectSend(machine);
    machine.onResponse(c1.id, { status: 308, headers: { range: `bytes=0-${CHUNK - 1}` }, body: "" }, 0);
    expect(machine.bytesPersisted).toBe(CHUNK);
    expect(machine.bytesBuffered).toBe(2 * CHUNK);
    expect(drainEvents(machine)).toContainEqual({ type: "progress", bytesSent: CHUNK, bytesPersisted: CHUNK });
  });

  it("308 without Range to a query means 0 persisted (not an error)", () => {
    const machine = uploadingWith(bytesOf(CHUNK + 1));
    const c1 = expectSend(machine);
    machine.onError(c1.id, { kind: "network" }, 0);
    const query = expectSend(machine, 1000);
    machine.onResponse(query.id, r308(), 1000);
    drainEvents(machine);
    const resend = expectSend(machine, 1000);
    expect(resend.request.headers["content-range"]).toBe(`bytes 0-${CHUNK - 1}/*`);
  });

  it("308 without Range to a chunk: nothing kept, counted as a failed attempt, then resent from 0", () => {
    const machine = uploadingWith(bytesOf(CHUNK + 1));
    const c1 = expectSend(machine);
    machine.onResponse(c1.id, r308(), 0);
    expect(machine.bytesPersisted).toBe(0);
    expect(drainEvents(machine)).toMatchObject([{ type: "progress" }, { type: "rewind", from: CHUNK, to: 0 }, { type: "retry", attempt: 1, error: { code: "transient" } }]);
    expect(machine.poll(0)).toEqual({ type: "wait", until: 1000 });
    expect(expectSend(machine, 1000).request.headers["content-range"]).toBe(`bytes 0-${CHUNK - 1}/*`);
  });

  it("a short acknowledgement rewinds within the retained bytes", () => {
    const content = bytesOf(4 * CHUNK);
    const machine = uploadingWith(content, options({ chunkSize: 2 * CHUNK }));
    const c1 = expectSend(machine);
    machine.onResponse(c1.id, r308(CHUNK), 0);
    expect(drainEvents(machine)).toEqual([
      { type: "progress", bytesSent: 2 * CHUNK, bytesPersisted: 0 },
      { type: "rewind", from: 2 * CHUNK, to: CHUNK },
      { type: "progress", bytesSent: 2 * CHUNK, bytesPersisted: CHUNK },
    ]);
    const c2 = expectSend(machine);
    expect(c2.request.headers["content-range"]).toBe(`bytes ${CHUNK}-${3 * CHUNK - 1}/*`);
    expect(bodyOf(c2)).toEqual(Buffer.from(content.subarray(CHUNK, 3 * CHUNK)));
    expect(machine.bytesSent).toBe(3 * CHUNK);
  });

  it("an acknowledgement beyond what was sent is a protocol violation", () => {
    const machine = uploadingWith(bytesOf(3 * CHUNK));
    const c1 = expectSend(machine);
    machine.onResponse(c1.id, r308(2 * CHUNK), 0);
    const error = expectAction(machine, "failed").error;
    expect(error.code).toBe("protocol-violation");
    expect(error.message).toContain(`reports ${2 * CHUNK} bytes persisted, but only ${CHUNK} were ever sent`);
    expect(error.message).not.toContain("ADPycdvR7x9ZqLongSecretToken42");
    expect(error.sessionId).toBe("ADPy…42");
  });

  it("a malformed Range is a protocol violation", () => {
    for (const range of ["bytes=5-10", "bytes 0-10", "0-10", "bytes=0-", "bytes=0-abc"]) {
      const machine = uploadingWith(bytesOf(CHUNK + 1));
      const c1 = expectSend(machine);
      machine.onResponse(c1.id, { status: 308, headers: { range }, body: "" }, 0);
      expect(expectAction(machine, "failed").error.code, range).toBe("protocol-violation");
    }
  });

  it("fewer bytes than the oldest retained byte is data-lost", () => {
    const machine = uploadingWith(bytesOf(3 * CHUNK));
    const c1 = expectSend(machine);
    machine.onResponse(c1.id, r308(CHUNK), 0);
    const c2 = expectSend(machine);
    machine.onError(c2.id, { kind: "network" }, 0);
    const query = expectSend(machine, 1000);
    machine.onResponse(query.id, r308(0), 1000);
    const error = expectAction(machine, "failed").error;
    expect(error.code).toBe("data-lost");
    expect(error.message).toContain(`had confirmed ${CHUNK} bytes, now reports 0`);
    expect(machine.bytesPersisted).toBe(CHUNK);
  });

  it("a lost final response: back off, ask, and accept the 200 the query gets", () => {
    const content = bytesOf(CHUNK + 10);
    const machine = uploadingWith(content);
    machine.end();
    const c1 = expectSend(machine);
    machine.onResponse(c1.id, r308(CHUNK), 0);
    const final = expectSend(machine);
    machine.onError(final.id, { kind: "truncated" }, 0);
    const query = expectSend(machine, 1000);
    expect(query.request.headers["content-range"]).toBe(`bytes */${CHUNK + 10}`);
    expect(query.request.headers["x-goog-hash"]).toBeUndefined();
    machine.onResponse(query.id, rObject(content), 1000);
    expect(expectAction(machine, "done").object.crc32c).toBe(crcB64(content));
  });

  it("a 200 to a resent final chunk after a lost response is success when size and checksums match", () => {
    const content = bytesOf(100);
    const machine = uploadingWith(content);
    machine.end();
    const f1 = expectSend(machine);
    machine.onResponse(f1.id, rStatus(503), 0);
    const query = expectSend(machine, 1000);
    machine.onResponse(query.id, r308(0), 1000);
    const f2 = expectSend(machine, 1000);
    expect(f2.request.headers["content-range"]).toBe("bytes 0-99/100");
    machine.onResponse(f2.id, { ...rObject(content), status: 201 }, 1000);
    expect(machine.poll(1000).type).toBe("done");
  });

  it("a final object of another size is a protocol violation", () => {
    const content = bytesOf(100);
    const machine = uploadingWith(content);
    machine.end();
    const final = expectSend(machine);
    machine.onResponse(final.id, rObject(content, { size: "99" }), 0);
    const error = expectAction(machine, "failed").error;
    expect(error.code).toBe("protocol-violation");
    expect(error.message).toContain("expected an object of 100 bytes, came one of 99");
  });

  it("a final object whose CRC32C or MD5 differs is a checksum mismatch", () => {
    const content = bytesOf(100);
    const crc = uploadingWith(content);
    crc.end();
    const f1 = expectSend(crc);
    crc.onResponse(f1.id, rObject(content, { crc32c: "AAAAAA==" }), 0);
    const e1 = expectAction(crc, "failed").error;
    expect(e1).toMatchObject({ code: "checksum-mismatch", retryable: false, status: 200 });
    expect(e1.message).toContain(`expected the object's CRC32C to be ${crcB64(content)}, came AAAAAA==`);
    const md5 = uploadingWith(content, options({ checksum: "md5" }));
    md5.end();
    const f2 = expectSend(md5);
    md5.onResponse(f2.id, rObject(content, { md5Hash: "1B2M2Y8AsgTpgAmY7PhCfg==" }), 0);
    expect(expectAction(md5, "failed").error.code).toBe("checksum-mismatch");
  });

  it("a final answer before end() is a protocol violation; so is one without a parseable object", () => {
    const early = uploadingWith(bytesOf(CHUNK + 1));
    const c1 = expectSend(early);
    early.onResponse(c1.id, rObject(bytesOf(CHUNK)), 0);
    expect(expectAction(early, "failed").error.message).toContain("end() has not been called");
    for (const body of ["<html>oops</html>", "[1,2]", ""]) {
      const machine = uploadingWith(bytesOf(10));
      machine.end();
      const final = expectSend(machine);
      machine.onResponse(final.id, { status: 200, headers: {}, body }, 0);
      expect(expectAction(machine, "failed").error.code, body).toBe("protocol-violation");
    }
    const noSize = uploadingWith(bytesOf(10));
    noSize.end();
    const f = expectSend(noSize);
    noSize.onResponse(f.id, { status: 200, headers: {}, body: JSON.stringify({ name: "obj" }) }, 0);
    expect(expectAction(noSize, "failed").error.message).toContain("state its size");
  });

  it.each([408, 429, 500, 502, 503, 504])("%i on a chunk is transient: back off, then ask", (status) => {
    const machine = uploadingWith(bytesOf(CHUNK + 1));
    const c1 = expectSend(machine);
    machine.onResponse(c1.id, rStatus(status, "try later"), 0);
    expect(drainEvents(machine).at(-1)).toMatchObject({ type: "retry", attempt: 1, delayMs: 1000, error: { code: "transient", status, retryable: true } });
    expect(machine.poll(999)).toEqual({ type: "wait", until: 1000 });
    const query = expectSend(machine, 1000);
    expect(query.purpose).toBe("query");
    expect(query.request.headers["content-range"]).toBe("bytes */*");
  });

  it.each(["network", "timeout", "truncated", "aborted"] as const)("a %s failure is transient: back off, then ask", (kind) => {
    const machine = uploadingWith(bytesOf(CHUNK + 1));
    const c1 = expectSend(machine);
    const cause = new Error(kind);
    machine.onError(c1.id, { kind, cause }, 0);
    const retry = drainEvents(machine).at(-1);
    expect(retry).toMatchObject({ type: "retry", attempt: 1, error: { code: "transient" } });
    expect((retry as { error: UploadError }).error.cause).toBe(cause);
    expect(expectSend(machine, 1000).purpose).toBe("query");
  });

  it.each([
    [400, "bad-request", "Invalid argument."],
    [401, "unauthorized", "Login required."],
    [403, "unauthorized", "Forbidden."],
    [404, "session-expired", "No such upload."],
    [410, "session-expired", "Session expired."],
    [412, "precondition-failed", "Precondition failed."],
    [418, "bad-request", "I'm a teapot."],
    [501, "protocol-violation", "Not implemented."],
  ] as const)("%i on a session request fails with %s, carrying the status and the server's message", (status, code, message) => {
    const machine = uploadingWith(bytesOf(CHUNK + 1));
    let c1 = expectSend(machine);
    if (status === 401) {
      // A first 401 in a session is re-sent once with fresh credentials; only a second one fails.
      machine.onResponse(c1.id, rStatus(status, message), 0);
      c1 = expectSend(machine);
      expect(c1).toMatchObject({ purpose: "chunk", refreshCredentials: true });
    }
    machine.onResponse(c1.id, rStatus(status, message), 0);
    const error = expectAction(machine, "failed").error;
    expect(error).toMatchObject({ code, status, serverMessage: message, sessionId: "ADPy…42" });
    expect(error.message).toContain(String(status));
    expect(error.message).not.toContain("LongSecretToken");
    // A failed machine stays failed.
    expect(machine.poll(1e9)).toEqual({ type: "failed", error });
    expect(machine.state).toBe("failed");
  });

  it("a 400 to the finalizing request that speaks of the checksum is a checksum mismatch", () => {
    const content = bytesOf(100);
    const machine = uploadingWith(content);
    machine.end();
    const final = expectSend(machine);
    machine.onResponse(final.id, rStatus(400, 'Provided CRC32C "AAAAAA==" doesn\'t match calculated CRC32C "x".'), 0);
    expect(expectAction(machine, "failed").error.code).toBe("checksum-mismatch");
    const other = uploadingWith(content);
    other.end();
    const f2 = expectSend(other);
    other.onResponse(f2.id, rStatus(400, "Invalid request."), 0);
    expect(expectAction(other, "failed").error.code).toBe("bad-request");
  });

  it("a plain-text error body becomes the server message", () => {
    const machine = uploadingWith(bytesOf(CHUNK + 1));
    const c1 = expectSend(machine);
    machine.onResponse(c1.id, { status: 403, headers: {}, body: "Access denied." }, 0);
    expect(expectAction(machine, "failed").error.serverMessage).toBe("Access denied.");
  });
});

describe("retries", () => {
  function failingChunk(machine: UploadMachine, now: number): void {
    const chunk = expectSend(machine, now);
    expect(chunk.purpose).toBe("chunk");
    machine.onResponse(chunk.id, rStatus(503), now);
  }

  it("backs off exponentially up to the cap (no jitter)", () => {
    const machine = new UploadMachine(options({ retry: { jitter: "none", maxAttempts: 100, deadlineMs: 1e9 } }));
    started(machine);
    machine.write(bytesOf(CHUNK + 1));
    const delays: number[] = [];
    let now = 0;
    failingChunk(machine, now);
    for (let i = 0; i < 8; i++) {
      const retry = drainEvents(machine).find((e) => e?.type === "retry") as { delayMs: number; attempt: number };
      expect(retry.attempt).toBe(i + 1);
      delays.push(retry.delayMs);
      now += retry.delayMs;
      const query = expectSend(machine, now);
      machine.onResponse(query.id, r308(0), now);
      failingChunk(machine, now);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 32000, 32000]);
  });

  it("equal jitter draws from the injected source: same seed, same delays, within [d/2, d]", () => {
    const run = (seed: number, jitter: "equal" | "full"): number[] => {
      const machine = new UploadMachine(options({ random: seededRandom(seed), retry: { jitter, maxAttempts: 100, deadlineMs: 1e9, initialDelayMs: 100, maxDelayMs: 10_000, multiplier: 3 } }));
      started(machine);
      machine.write(bytesOf(CHUNK + 1));
      let now = 0;
      const delays: number[] = [];
      for (let i = 0; i < 6; i++) {
        const chunk = expectSend(machine, now);
        machine.onError(chunk.id, { kind: "network" }, now);
        const retry = drainEvents(machine).find((e) => e?.type === "retry") as { delayMs: number };
        delays.push(retry.delayMs);
        now += retry.delayMs;
        const query = expectSend(machine, now);
        machine.onResponse(query.id, r308(0), now);
      }
      return delays;
    };
    const bases = [100, 300, 900, 2700, 8100, 10_000];
    const a = run(42, "equal");
    expect(run(42, "equal")).toEqual(a);
    expect(run(43, "equal")).not.toEqual(a);
    a.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(bases[i]! / 2);
      expect(d).toBeLessThanOrEqual(bases[i]!);
    });
    run(42, "full").forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(bases[i]!);
    });
  });

  it("the attempt counter resets whenever the persisted offset advances", () => {
    const machine = new UploadMachine(options({ retry: { jitter: "none", maxAttempts: 4 } }));
    started(machine);
    machine.write(bytesOf(3 * CHUNK));
    let now = 0;
    const attempts: number[] = [];
    const failOnce = (persistedAfter: number): void => {
      const chunk = expectSend(machine, now);
      machine.onResponse(chunk.id, rStatus(500), now);
      const retry = drainEvents(machine).find((e) => e?.type === "retry") as { attempt: number; delayMs: number };
      attempts.push(retry.attempt);
      now += retry.delayMs;
      const query = expectSend(machine, now);
      machine.onResponse(query.id, r308(persistedAfter), now);
    };
    failOnce(0);
    failOnce(0);
    failOnce(CHUNK); // the failed request had persisted a chunk after all: progress
    failOnce(CHUNK);
    failOnce(CHUNK);
    failOnce(CHUNK);
    expect(attempts).toEqual([1, 2, 3, 1, 2, 3]);
    // The fourth failure in a row at the same offset exhausts maxAttempts = 4.
    const chunk = expectSend(machine, now);
    machine.onResponse(chunk.id, rStatus(503, "overloaded"), now);
    const error = expectAction(machine, "failed", now).error;
    expect(error).toMatchObject({ code: "retries-exhausted", retryable: true, status: 503, serverMessage: "overloaded" });
    expect(error.cause).toBeInstanceOf(UploadError);
    expect((error.cause as UploadError).code).toBe("transient");
    expect(error.message).toContain("gave up after 4 failed attempts in a row");
  });

  it("failing status queries count against the budget too", () => {
    const machine = new UploadMachine(options({ retry: { jitter: "none", maxAttempts: 3 } }));
    started(machine);
    machine.write(bytesOf(CHUNK + 1));
    const chunk = expectSend(machine, 0);
    machine.onError(chunk.id, { kind: "network" }, 0);
    const q1 = expectSend(machine, 1000);
    machine.onError(q1.id, { kind: "timeout" }, 1000);
    const q2 = expectSend(machine, 3000);
    expect(q2.purpose).toBe("query");
    machine.onResponse(q2.id, rStatus(502), 3000);
    expect(expectAction(machine, "failed", 3000).error.code).toBe("retries-exhausted");
  });

  it("gives up with deadline-exceeded when the next retry would begin after the deadline", () => {
    const machine = new UploadMachine(options({ retry: { jitter: "none", maxAttempts: 100, deadlineMs: 10_000 } }));
    started(machine);
    machine.write(bytesOf(CHUNK + 1));
    let now = 500;
    const chunk = expectSend(machine, now);
    machine.onError(chunk.id, { kind: "network" }, now); // recovery starts at 500; waits 1000, 2000, 4000
    for (const delay of [1000, 2000, 4000]) {
      now += delay;
      const query = expectSend(machine, now);
      machine.onError(query.id, { kind: "network" }, now);
    }
    // now = 7500: the next wait (8000) would end at 15500 > 500 + 10000.
    const error = expectAction(machine, "failed", now).error;
    expect(error.code).toBe("deadline-exceeded");
    expect(error.message).toContain("10000 ms deadline");
  });

  it("reports the stall timeout in each send action and treats a timeout as transient", () => {
    const machine = new UploadMachine(options({ retry: { idleTimeoutMs: 5000, jitter: "none" } }));
    const start = expectSend(machine);
    expect(start.idleTimeoutMs).toBe(5000);
    machine.onResponse(start.id, rStart(), 0);
    machine.write(bytesOf(CHUNK + 1));
    const chunk = expectSend(machine, 0);
    machine.onError(chunk.id, { kind: "timeout" }, 5000);
    const retry = drainEvents(machine).find((e) => e?.type === "retry") as { error: UploadError };
    expect(retry.error.message).toContain("no progress for 5000 ms");
    expect(expectSend(machine, 6000).purpose).toBe("query");
  });
});

describe("cancel and abort", () => {
  it("cancel deletes the session, then the machine ends cancelled", () => {
    const machine = new UploadMachine(options());
    started(machine);
    machine.write(new Uint8Array(10));
    machine.cancel();
    expect(machine.state).toBe("cancelling");
    expect(machine.wantsData).toBe(false);
    const del = expectSend(machine);
    expect(del.purpose).toBe("cancel");
    expect(del.request).toEqual({ method: "DELETE", url: SESSION, headers: { "content-length": "0" }, body: [], bodyLength: 0 });
    machine.onResponse(del.id, { status: 499, headers: {}, body: "" }, 0);
    expect(machine.poll(0)).toEqual({ type: "cancelled" });
    expect(machine.error?.code).toBe("cancelled");
    expect(machine.checkpoint()).toBeUndefined();
    expect(() => machine.write(new Uint8Array(1))).toThrow(UsageError);
    machine.cancel(); // no-op
    expect(machine.poll(0)).toEqual({ type: "cancelled" });
  });

  it.each([204, 200, 404, 410])("a DELETE answered %i also ends cancelled", (status) => {
    const machine = new UploadMachine(options());
    started(machine);
    machine.cancel();
    const del = expectSend(machine);
    machine.onResponse(del.id, rStatus(status), 0);
    expect(machine.poll(0)).toEqual({ type: "cancelled" });
  });

  it("a DELETE failing transiently is retried; a refused one ends cancelled with cancel-incomplete", () => {
    const machine = new UploadMachine(options());
    started(machine);
    machine.cancel();
    const d1 = expectSend(machine, 0);
    machine.onError(d1.id, { kind: "network" }, 0);
    expect(machine.poll(0)).toEqual({ type: "wait", until: 1000 });
    const d2 = expectSend(machine, 1000);
    expect(d2.purpose).toBe("cancel");
    machine.onResponse(d2.id, rStatus(403, "denied"), 1000);
    expect(machine.poll(1000)).toEqual({ type: "cancelled" });
    expect(drainEvents(machine).at(-1)).toMatchObject({ type: "cancel-incomplete", error: { code: "unauthorized" } });
  });

  it("cancel before any session just ends", () => {
    const machine = new UploadMachine(options());
    machine.cancel();
    expect(machine.poll(0)).toEqual({ type: "cancelled" });
    expect(machine.error?.message).toContain("before a session existed");
  });

  it("cancel while the start is in flight deletes the session it creates", () => {
    const machine = new UploadMachine(options());
    const start = expectSend(machine);
    machine.cancel();
    expect(machine.poll(0)).toEqual({ type: "in-flight" });
    machine.onResponse(start.id, rStart(), 0);
    expect(expectSend(machine).request.method).toBe("DELETE");
    const other = new UploadMachine(options());
    const s2 = expectSend(other);
    other.cancel();
    other.onError(s2.id, { kind: "aborted" }, 0);
    expect(other.poll(0)).toEqual({ type: "cancelled" });
  });

  it("cancel while the start is in flight: the start's answer decides between DELETE and just ending", () => {
    const created = new UploadMachine(options());
    created.write(bytesOf(10));
    const start = expectSend(created);
    created.cancel();
    expect(created.state).toBe("cancelling");
    expect(created.poll(0)).toEqual({ type: "in-flight" });
    created.onResponse(start.id, rStart(), 0);
    const del = expectSend(created);
    expect(del.purpose).toBe("cancel");
    expect(del.request).toEqual({ method: "DELETE", url: SESSION, headers: { "content-length": "0" }, body: [], bodyLength: 0 });
    created.onResponse(del.id, rStatus(499), 0);
    expect(created.poll(0)).toEqual({ type: "cancelled" });
    expect(created.error?.message).toContain("session deleted");
    // A start that fails, transiently or not, created no session: no retry, no DELETE.
    for (const response of [rStatus(503), rStatus(403), { status: 200, headers: {}, body: "" }]) {
      const failed = new UploadMachine(options());
      const s = expectSend(failed);
      failed.cancel();
      failed.onResponse(s.id, response, 0);
      expect(failed.poll(0)).toEqual({ type: "cancelled" });
      expect(failed.error?.message).toContain("before a session existed");
      expect(drainEvents(failed)).toEqual([]);
    }
    for (const kind of ["network", "timeout", "truncated"] as const) {
      const broken = new UploadMachine(options());
      const s = expectSend(broken);
      broken.cancel();
      broken.onError(s.id, { kind }, 0);
      expect(broken.poll(0)).toEqual({ type: "cancelled" });
    }
  });

  it("cancel while a chunk is in flight waits for it, then deletes; cancel during backoff deletes at once", () => {
    const machine = new UploadMachine(options());
    started(machine);
    machine.write(bytesOf(CHUNK + 1));
    const chunk = expectSend(machine);
    machine.cancel();
    expect(machine.poll(0)).toEqual({ type: "in-flight" });
    machine.onError(chunk.id, { kind: "aborted" }, 0);
    expect(expectSend(machine).purpose).toBe("cancel");

    const backoff = new UploadMachine(options());
    started(backoff);
    backoff.write(bytesOf(CHUNK + 1));
    const c = expectSend(backoff);
    backoff.onResponse(c.id, rStatus(503), 0);
    expect(backoff.poll(0).type).toBe("wait");
    backoff.cancel();
    expect(expectSend(backoff, 0).purpose).toBe("cancel");
  });

  it("if the object was committed before the cancel arrived, the machine ends done", () => {
    const content = bytesOf(10);
    const machine = new UploadMachine(options());
    started(machine);
    machine.write(content);
    machine.end();
    const final = expectSend(machine);
    machine.cancel();
    machine.onResponse(final.id, rObject(content), 0);
    expect(machine.poll(0).type).toBe("done");
  });

  it("abort while the finalizing request is in flight lets it settle: a committed object ends done, not kept", () => {
    const content = bytesOf(CHUNK + 9);
    const machine = new UploadMachine(options());
    started(machine);
    machine.write(content);
    machine.end();
    const c1 = expectSend(machine);
    machine.onResponse(c1.id, r308(CHUNK), 0);
    const final = expectSend(machine);
    expect(final.purpose).toBe("finalize");
    machine.abort(new Error("Ctrl-C"));
    expect(machine.isFinished).toBe(false);
    expect(machine.poll(0).type).toBe("in-flight");
    machine.onResponse(final.id, rObject(content), 0);
    expect(expectAction(machine, "done").object.size).toBe(String(content.length));
  });

  it("abort while finalizing, then the outcome is lost: one status query decides (final: done; not final: aborted, kept)", () => {
    const content = bytesOf(100);
    for (const answer of ["final", "open"] as const) {
      const machine = new UploadMachine(options());
      started(machine);
      machine.write(content);
      machine.end();
      const final = expectSend(machine);
      machine.abort();
      machine.onError(final.id, { kind: "network" }, 0);
      const query = expectSend(machine, 0); // at once: no backoff wait once aborted
      expect(query.purpose).toBe("query");
      machine.onResponse(query.id, answer === "final" ? rObject(content) : r308(0), 0);
      if (answer === "final") expect(machine.poll(0).type).toBe("done");
      else {
        expect(expectAction(machine, "failed").error.code).toBe("aborted");
        expect(machine.checkpoint()).toMatchObject({ sessionUri: SESSION, resumeOffset: 0 });
      }
    }
  });

  it("abort while finalizing asks at most once: a failed status query ends aborted, kept", () => {
    const content = bytesOf(100);
    const machine = new UploadMachine(options());
    started(machine);
    machine.write(content);
    machine.end();
    const final = expectSend(machine);
    machine.abort();
    machine.onResponse(final.id, rStatus(503), 0);
    const query = expectSend(machine, 0);
    machine.onError(query.id, { kind: "network" }, 0);
    expect(expectAction(machine, "failed").error.code).toBe("aborted");
  });

  it("abort stops without DELETE; the checkpoint stays available; the late outcome is ignored once", () => {
    const machine = new UploadMachine(options());
    started(machine);
    machine.write(bytesOf(2 * CHUNK + 1));
    const c1 = expectSend(machine);
    machine.onResponse(c1.id, r308(CHUNK), 0);
    const c2 = expectSend(machine);
    const reason = new Error("user closed the tab");
    machine.abort(reason);
    const failed = expectAction(machine, "failed");
    expect(failed.error).toMatchObject({ code: "aborted", retryable: true });
    expect(failed.error.cause).toBe(reason);
    expect(machine.state).toBe("aborted");
    expect(machine.checkpoint()).toMatchObject({ sessionUri: SESSION, resumeOffset: CHUNK });
    machine.onResponse(c2.id, r308(2 * CHUNK), 0); // the abandoned request's late answer: ignored
    expect(machine.bytesPersisted).toBe(CHUNK);
    expect(() => machine.onResponse(c2.id, r308(2 * CHUNK), 0)).toThrow(UsageError);
    expect(() => machine.write(new Uint8Array(1))).toThrow(UsageError);
    machine.abort(); // no-op
    machine.cancel(); // no-op: a finished machine stays finished
    expect(machine.poll(0)).toEqual(failed);
  });
});

describe("misuse throws at once and changes nothing", () => {
  it("write after end, end twice, write after failure", () => {
    const machine = new UploadMachine(options());
    machine.end();
    expect(() => machine.write(new Uint8Array(1))).toThrow(/write\(\) after end\(\)/);
    expect(() => machine.end()).toThrow(UsageError);
    const failed = new UploadMachine(options());
    const start = expectSend(failed);
    failed.onResponse(start.id, rStatus(403), 0);
    expect(failed.poll(0).type).toBe("failed");
    let thrown: unknown;
    try {
      failed.write(new Uint8Array(1));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect(thrown).toMatchObject({ code: "usage", message: expect.stringContaining("after the upload failed") as unknown });
    expect((thrown as UsageError).cause).toBe(failed.error);
    expect(() => failed.end()).toThrow(UsageError);
  });

  it("non-byte chunks are refused with invalid-argument", () => {
    const machine = new UploadMachine(options());
    for (const chunk of ["text", 42, null, undefined, [1, 2], new ArrayBuffer(4), new Uint16Array(2), new DataView(new ArrayBuffer(2)), { length: 1 }]) {
      let thrown: unknown;
      try {
        machine.write(chunk as unknown as Uint8Array);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ValidationError);
      expect(thrown).toMatchObject({ code: "invalid-argument", field: "write(bytes)" });
    }
    expect(machine.bytesWritten).toBe(0);
    machine.write(Buffer.from("a Buffer is a Uint8Array"));
    machine.write(new Uint8Array(0));
    expect(machine.bytesWritten).toBe(24);
  });

  it("writing past the declared total or ending short of it throws", () => {
    const machine = new UploadMachine(options({ totalSize: 10 }));
    machine.write(new Uint8Array(8));
    expect(() => machine.write(new Uint8Array(3))).toThrow(/expected at most 10 bytes/);
    expect(() => machine.end()).toThrow(/end\(\) after 8 bytes: expected 10/);
    machine.write(new Uint8Array(2));
    machine.end();
    expect(machine.totalSize).toBe(10);
  });

  it("unknown and already-settled ids throw; malformed reports throw", () => {
    const machine = new UploadMachine(options());
    expect(() => machine.onResponse(1, rStart(), 0)).toThrow(UsageError);
    const start = expectSend(machine);
    expect(() => machine.onResponse(start.id + 1, rStart(), 0)).toThrow(UsageError);
    expect(() => machine.onError(start.id, { kind: "weird" as "network" }, 0)).toThrow(ValidationError);
    expect(() => machine.onResponse(start.id, { status: "200" } as never, 0)).toThrow(ValidationError);
    machine.onResponse(start.id, rStart(), 0);
    expect(() => machine.onResponse(start.id, rStart(), 0)).toThrow(/unknown or already settled/);
    expect(() => machine.poll(Number.NaN)).toThrow(ValidationError);
  });

  it("polling again without input repeats the logical action; a send is returned once", () => {
    const machine = new UploadMachine(options());
    const start = expectSend(machine);
    expect(machine.poll(0)).toEqual({ type: "in-flight" });
    expect(machine.poll(5)).toEqual({ type: "in-flight" });
    machine.onResponse(start.id, rStart(), 0);
    expect(machine.poll(0)).toEqual({ type: "need-data" });
    expect(machine.poll(0)).toEqual({ type: "need-data" });
    machine.write(bytesOf(CHUNK + 1));
    const chunk = expectSend(machine);
    expect(chunk.id).toBe(2);
    machine.onResponse(chunk.id, rStatus(503), 100);
    expect(machine.poll(200)).toEqual({ type: "wait", until: 1100 });
    expect(machine.poll(300)).toEqual({ type: "wait", until: 1100 });
    expect(expectSend(machine, 1100).id).toBe(3);
  });
});

describe("memory and backpressure", () => {
  it("unknown total: wantsData stays true up to a full chunk of unsent bytes (it waits for one byte beyond), false past it", () => {
    const machine = new UploadMachine(options({ chunkSize: 2 * CHUNK }));
    started(machine);
    expect(machine.wantsData).toBe(true);
    machine.write(new Uint8Array(CHUNK));
    expect(machine.wantsData).toBe(true);
    machine.write(new Uint8Array(CHUNK));
    expect(machine.wantsData).toBe(true); // a full chunk is held until a byte beyond it (or end()) comes
    expect(expectAction(machine, "need-data").type).toBe("need-data");
    machine.write(new Uint8Array(1));
    expect(machine.wantsData).toBe(false);
    const c1 = expectSend(machine);
    expect(machine.wantsData).toBe(true); // the in-flight chunk no longer counts as unsent
    machine.write(new Uint8Array(2 * CHUNK));
    expect(machine.wantsData).toBe(false);
    expect(machine.bytesBuffered).toBe(4 * CHUNK + 1);
    machine.onResponse(c1.id, r308(2 * CHUNK), 0);
    expect(machine.bytesBuffered).toBe(2 * CHUNK + 1); // acknowledged bytes released at once
    expect(machine.wantsData).toBe(false);
    machine.end();
    expect(machine.wantsData).toBe(false);
  });

  it("known total: wantsData turns false at a chunk of unsent bytes, which is sent at once", () => {
    const machine = new UploadMachine(options({ chunkSize: 2 * CHUNK, totalSize: 10 * CHUNK }));
    started(machine);
    machine.write(new Uint8Array(CHUNK));
    expect(machine.wantsData).toBe(true);
    machine.write(new Uint8Array(CHUNK));
    expect(machine.wantsData).toBe(false);
    const c1 = expectSend(machine);
    expect(c1.request.headers["content-range"]).toBe(`bytes 0-${2 * CHUNK - 1}/${10 * CHUNK}`);
    expect(machine.wantsData).toBe(true);
  });

  it("the memory bound is reached, not exceeded, with chunk-sized writes (unknown total)", () => {
    const chunk = 2 * CHUNK;
    const machine = new UploadMachine(options({ chunkSize: chunk }));
    started(machine);
    let max = 0;
    const fill = (): void => {
      while (machine.wantsData) {
        machine.write(new Uint8Array(chunk));
        max = Math.max(max, machine.bytesBuffered);
      }
    };
    for (let i = 0; i < 20; i++) {
      fill();
      const action = expectSend(machine);
      fill(); // an adapter keeps writing while a chunk is in flight
      machine.onResponse(action.id, r308(machine.bytesSent), 0);
    }
    // One chunk in flight, one held for the byte beyond it, and the write that brought that byte.
    expect(max).toBe(2 * chunk + chunk);
  });

  it("retained bytes stay within two chunks plus one write when the adapter honours wantsData", () => {
    const chunk = 2 * CHUNK;
    const machine = new UploadMachine(options({ chunkSize: chunk }));
    started(machine);
    const write = 100_000;
    let max = 0;
    for (let i = 0; i < 200; i++) {
      while (machine.wantsData) {
        machine.write(new Uint8Array(write));
        max = Math.max(max, machine.bytesBuffered);
      }
      const action = expectSend(machine);
      machine.onResponse(action.id, r308(machine.bytesSent), 0);
    }
    expect(max).toBeLessThanOrEqual(2 * chunk + write);
    expect(machine.bytesPersisted).toBe(200 * chunk);
  });
});

describe("errors carry a redacted session", () => {
  it("messages never contain the upload id in full", () => {
    const machine = new UploadMachine(options({ target: { kind: "session", sessionUri: SESSION } }));
    const query = expectSend(machine);
    machine.onResponse(query.id, rStatus(410, "gone"), 0);
    const error = expectAction(machine, "failed").error;
    expect(error.code).toBe("session-expired");
    expect(error.message).toContain("upload_id=ADPy…42");
    expect(error.message).not.toContain("ADPycdvR7x9ZqLongSecretToken42");
    expect(error.sessionId).toBe("ADPy…42");
  });
});

describe("checksum bookkeeping", () => {
  it("counts no byte twice across rewinds (the final hash equals the CRC32C of the object)", () => {
    const content = bytesOf(5 * CHUNK + 77);
    const machine = new UploadMachine(options({ chunkSize: 2 * CHUNK, checksum: "both", checksums: nodeChecksums }));
    started(machine);
    machine.write(content);
    machine.end();
    const c1 = expectSend(machine);
    machine.onResponse(c1.id, r308(CHUNK), 0); // short ack
    const c2 = expectSend(machine);
    machine.onError(c2.id, { kind: "network" }, 0);
    const q = expectSend(machine, 1000);
    machine.onResponse(q.id, r308(2 * CHUNK), 1000);
    const c3 = expectSend(machine, 1000);
    machine.onResponse(c3.id, r308(4 * CHUNK), 1000);
    const final = expectSend(machine, 1000);
    expect(final.request.headers["content-range"]).toBe(`bytes ${4 * CHUNK}-${5 * CHUNK + 76}/${5 * CHUNK + 77}`);
    expect(final.request.headers["x-goog-hash"]).toBe(`crc32c=${crcB64(content)},md5=${md5B64(content)}`);
    machine.onError(final.id, { kind: "network" }, 1000);
    const q2 = expectSend(machine, 2000);
    machine.onResponse(q2.id, r308(4 * CHUNK), 2000);
    const again = expectSend(machine, 2000);
    expect(again.request.headers["x-goog-hash"]).toBe(`crc32c=${crcB64(content)},md5=${md5B64(content)}`);
  });
});

describe("every ending tells the truth (issue 12)", () => {
  function finalInFlight(content: Uint8Array, opts = options()): { machine: UploadMachine; final: ReturnType<typeof expectSend> } {
    const machine = new UploadMachine(opts);
    started(machine);
    machine.write(content);
    machine.end();
    for (;;) {
      const send = expectSend(machine);
      if (send.purpose === "finalize") return { machine, final: send };
      machine.onResponse(send.id, r308(machine.bytesSent), 0);
    }
  }

  it("an adopted session that is already final: verifying, the rest of the source, then done", () => {
    const content = bytesOf(CHUNK + 7);
    const machine = new UploadMachine(options({ target: { kind: "session", sessionUri: SESSION }, checksum: "both" }));
    drainEvents(machine);
    const query = expectSend(machine);
    machine.write(content.subarray(0, 1000)); // the source feeds while the query is out
    machine.onResponse(query.id, rObject(content), 0);
    expect(machine.state).toBe("verifying");
    expect(machine.poll(0)).toEqual({ type: "need-data" });
    machine.write(content.subarray(1000));
    machine.end();
    // From offset 0 the MD5 covers every byte: it is verified too.
    expect(expectAction(machine, "done")).toMatchObject({ committedBeforeCancel: false, object: { md5Hash: md5B64(content) } });
  });

  it("cancel racing the final request: a 200 to the final PUT ends done, committedBeforeCancel", () => {
    const content = bytesOf(10);
    const { machine, final } = finalInFlight(content);
    machine.cancel();
    machine.onResponse(final.id, rObject(content), 0);
    expect(expectAction(machine, "done")).toEqual({ type: "done", object: JSON.parse(rObject(content).body) as unknown, committedBeforeCancel: true });
    expect(machine.committedBeforeCancel).toBe(true);
    expect(machine.error).toBeUndefined();
  });

  it("cancel racing the final request: the DELETE answered 200 with the object ends done, verified", () => {
    const content = bytesOf(CHUNK + 10);
    const { machine, final } = finalInFlight(content);
    machine.cancel();
    machine.onError(final.id, { kind: "aborted" }, 0); // the driver aborts it; GCS had committed already
    const del = expectSend(machine);
    expect(del.purpose).toBe("cancel");
    machine.onResponse(del.id, rObject(content), 0);
    expect(expectAction(machine, "done")).toMatchObject({ committedBeforeCancel: true, object: { crc32c: crcB64(content) } });
    // The object is verified like any other: other bytes are a checksum mismatch, not "cancelled".
    const other = finalInFlight(content);
    other.machine.cancel();
    other.machine.onError(other.final.id, { kind: "aborted" }, 0);
    const d2 = expectSend(other.machine);
    other.machine.onResponse(d2.id, rObject(bytesOf(CHUNK + 10, 99)), 0);
    expect(expectAction(other.machine, "failed").error.code).toBe("checksum-mismatch");
  });

  it("a DELETE answered 200 without a body still means the session is gone; with cut JSON it is asked again", () => {
    const content = bytesOf(10);
    const plain = finalInFlight(content);
    plain.machine.cancel();
    plain.machine.onError(plain.final.id, { kind: "aborted" }, 0);
    plain.machine.onResponse(expectSend(plain.machine).id, { status: 200, headers: {}, body: "" }, 0);
    expect(plain.machine.poll(0)).toEqual({ type: "cancelled" });
    const cut = finalInFlight(content);
    cut.machine.cancel();
    cut.machine.onError(cut.final.id, { kind: "aborted" }, 0);
    const d1 = expectSend(cut.machine);
    cut.machine.onResponse(d1.id, { ...rObject(content), body: rObject(content).body.slice(0, 40) }, 0);
    expect(drainEvents(cut.machine).at(-1)).toMatchObject({ type: "retry", error: { code: "transient", message: expect.stringContaining("cut short") as unknown } });
    const d2 = expectSend(cut.machine, 1000);
    expect(d2.purpose).toBe("cancel");
    cut.machine.onResponse(d2.id, rObject(content), 1000);
    expect(expectAction(cut.machine, "done", 1000).committedBeforeCancel).toBe(true);
  });

  it("a final answer whose JSON is cut (complete message) is outcome-unknown: back off, query, verify the answer", () => {
    const content = bytesOf(CHUNK + 10);
    const { machine, final } = finalInFlight(content);
    const body = rObject(content).body;
    machine.onResponse(final.id, { status: 200, headers: { "content-length": String(body.length - 20) }, body: body.slice(0, -20) }, 0);
    expect(drainEvents(machine).at(-1)).toMatchObject({ type: "retry", attempt: 1, error: { code: "transient", status: 200 } });
    expect(machine.state).toBe("backoff");
    const query = expectSend(machine, 1000);
    expect(query.purpose).toBe("query");
    expect(query.request.headers["content-range"]).toBe(`bytes */${content.length}`);
    machine.onResponse(query.id, rObject(content), 1000);
    expect(expectAction(machine, "done", 1000).object.crc32c).toBe(crcB64(content));
    // If the query shows the object was not committed after all, the final request goes again.
    const again = finalInFlight(content);
    again.machine.onResponse(again.final.id, { status: 200, headers: {}, body: '{"kind":"storage#object","na' }, 0);
    const q2 = expectSend(again.machine, 1000);
    again.machine.onResponse(q2.id, r308(CHUNK), 1000);
    expect(expectSend(again.machine, 1000)).toMatchObject({ purpose: "finalize", request: { headers: { "x-goog-hash": `crc32c=${crcB64(content)}` } } });
  });

  it.each([
    ["crc32c", { crc32c: undefined }, "crc32c"],
    ["crc32c", { crc32c: 12345 }, "crc32c"],
    ["crc32c", { crc32c: "not base64!" }, "crc32c"],
    ["md5", { md5Hash: undefined }, "md5Hash"],
    ["both", { md5Hash: "" }, "md5Hash"],
  ] as const)("checksum %s asked, final object with %j: checksum-unverifiable", (checksum, override, field) => {
    const content = bytesOf(100);
    const { machine, final } = finalInFlight(content, options({ checksum }));
    machine.onResponse(final.id, rObject(content, override), 0);
    const error = expectAction(machine, "failed").error;
    expect(error).toMatchObject({ code: "checksum-unverifiable", retryable: false, status: 200 });
    expect(error.message).toContain(`(${field})`);
  });

  it("a checksum that was not asked for need not be stated (MD5 off, or skipped after a resume)", () => {
    const content = bytesOf(100);
    const crcOnly = finalInFlight(content, options({ checksum: "crc32c" }));
    crcOnly.machine.onResponse(crcOnly.final.id, rObject(content, { md5Hash: undefined }), 0);
    expect(crcOnly.machine.poll(0).type).toBe("done");
    const none = finalInFlight(content, options({ checksum: "none" }));
    none.machine.onResponse(none.final.id, rObject(content, { crc32c: undefined, md5Hash: undefined }), 0);
    expect(none.machine.poll(0).type).toBe("done");
  });

  it.each([
    [{ bucket: "other-bucket" }, 'bucket to be "bkt"'],
    [{ name: "other-object" }, 'name to be "obj"'],
  ])("a final object of another target (%j) is a protocol violation", (override, message) => {
    const content = bytesOf(100);
    const { machine, final } = finalInFlight(content);
    machine.onResponse(final.id, rObject(content, override), 0);
    const error = expectAction(machine, "failed").error;
    expect(error.code).toBe("protocol-violation");
    expect(error.message).toContain(message);
  });

  it("an auth failure of the transport fails at once with code auth and the auth source's reason", () => {
    const machine = new UploadMachine(options());
    const start = expectSend(machine);
    const cause = new Error("Could not load the default credentials.");
    machine.onError(start.id, { kind: "auth", cause }, 0);
    const error = expectAction(machine, "failed").error;
    expect(error).toMatchObject({ code: "auth", retryable: false });
    expect(error.message).toContain("Could not load the default credentials.");
    expect(error.cause).toBe(cause);
    expect(drainEvents(machine).filter((e) => e?.type === "retry")).toEqual([]);
    // Mid-upload too.
    const later = new UploadMachine(options());
    started(later);
    later.write(bytesOf(CHUNK + 1));
    later.onError(expectSend(later).id, { kind: "auth", cause: "token endpoint refused" }, 0);
    expect(expectAction(later, "failed").error).toMatchObject({ code: "auth", sessionId: "ADPy…42" });
  });

  it("a first 401 in a session is re-sent with refreshCredentials; after success a later 401 gets its own refresh", () => {
    const machine = new UploadMachine(options());
    started(machine);
    machine.write(bytesOf(3 * CHUNK));
    const c1 = expectSend(machine);
    expect(c1.refreshCredentials).toBeUndefined();
    machine.onResponse(c1.id, rStatus(401, "Invalid Credentials"), 0);
    expect(machine.poll(0)).toMatchObject({ type: "send", purpose: "chunk", refreshCredentials: true, request: { headers: { "content-range": `bytes 0-${CHUNK - 1}/*` } } });
    const retried = machine.poll(0);
    expect(retried.type).toBe("in-flight");
    expect(drainEvents(machine).filter((e) => e?.type === "retry")).toEqual([]); // no backoff
  });

  it("401 refresh: the refreshed request succeeding resets it; a 401 to the refreshed request fails unauthorized", () => {
    const machine = new UploadMachine(options());
    started(machine);
    machine.write(bytesOf(3 * CHUNK));
    const c1 = expectSend(machine);
    machine.onResponse(c1.id, rStatus(401, "expired"), 0);
    const c1again = expectSend(machine);
    expect(c1again.refreshCredentials).toBe(true);
    machine.onResponse(c1again.id, r308(CHUNK), 0);
    const c2 = expectSend(machine);
    expect(c2.refreshCredentials).toBeUndefined();
    machine.onResponse(c2.id, rStatus(401, "expired again"), 0);
    const c2again = expectSend(machine);
    expect(c2again.refreshCredentials).toBe(true);
    machine.onResponse(c2again.id, rStatus(401, "Invalid Credentials"), 0);
    expect(expectAction(machine, "failed").error).toMatchObject({ code: "unauthorized", status: 401, serverMessage: "Invalid Credentials" });
  });

  it("the default retry policy gives up on a server that never answers within 5 minutes of no progress", () => {
    const machine = new UploadMachine(options({ retry: {} }));
    started(machine);
    machine.write(bytesOf(CHUNK + 1));
    let now = 0;
    let action = machine.poll(now);
    while (action.type === "send" || action.type === "wait") {
      if (action.type === "send") {
        now += action.idleTimeoutMs; // every request stalls until the driver abandons it
        machine.onError(action.id, { kind: "timeout" }, now);
      } else {
        now = action.until;
      }
      action = machine.poll(now);
    }
    expect(action).toMatchObject({ type: "failed", error: { code: "deadline-exceeded", message: expect.stringContaining("300000 ms deadline") as unknown } });
    expect(now).toBeLessThanOrEqual(300_000 + 60_000);
  });
});
