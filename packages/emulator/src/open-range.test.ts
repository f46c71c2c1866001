/**
 * Conformance, raw HTTP: the open-ended `PUT {session}` of @google-cloud/storage's single-request
 * resumable mode (`Content-Range: bytes {first}-*\/*` or `bytes {first}-*\/{total}`, chunked body).
 */
import { request } from "node:http";
import { describe, expect, it } from "vitest";
import {
  KIB256,
  bytes,
  crc32cBase64,
  exchange,
  md5Base64,
  persistedOf,
  putChunk,
  query,
  startSession,
  type RawResponse,
  useTestEmulator,
} from "./test-support/raw-http.js";

const { em, fresh } = useTestEmulator("open-");

/** An open-ended PUT with a chunked body (no Content-Length). */
function putOpen(session: string, first: number, body: Buffer, total: number | "*" = "*", headers: Record<string, string> = {}) {
  return exchange(session, { method: "PUT", headers: { "Content-Range": `bytes ${first}-*/${total}`, ...headers }, body, chunked: true });
}

function complete(outcome: Awaited<ReturnType<typeof exchange>>): RawResponse {
  if (!outcome.ok) throw new Error(`request failed: ${outcome.code}`);
  return outcome;
}

/** Streams `sent` bytes of a chunked open-ended body, then destroys the connection like a client that gives up. */
function streamAndCut(session: string, first: number, body: Buffer, sent: number): Promise<void> {
  return new Promise((resolve) => {
    const req = request(session, { method: "PUT", headers: { "Content-Range": `bytes ${first}-*/*` }, agent: false });
    req.on("error", () => undefined);
    req.on("close", () => resolve());
    req.flushHeaders();
    req.write(body.subarray(0, sent), () => {
      setTimeout(() => req.destroy(), 50);
    });
  });
}

describe("open-ended PUT (bytes a-*/*)", () => {
  it("finalizes with the body's length when a chunked body ends", async () => {
    const name = fresh();
    const data = bytes(3 * KIB256 + 777);
    const session = await startSession(em.url, name);
    const done = complete(await putOpen(session, 0, data, "*", { "X-Goog-Hash": `crc32c=${crc32cBase64(data)},md5=${md5Base64(data)}` }));
    expect(done.status).toBe(200);
    expect(done.json()).toMatchObject({ size: String(data.length), crc32c: crc32cBase64(data), md5Hash: md5Base64(data) });
    expect(Buffer.from(em.getObject("bkt", name)!.data!).equals(data)).toBe(true);
  });

  it("finalizes a zero-byte object and a small one (no 256 KiB minimum: it is the final request)", async () => {
    const empty = await startSession(em.url, fresh());
    expect(complete(await putOpen(empty, 0, Buffer.alloc(0))).json()).toMatchObject({ size: "0" });
    const small = await startSession(em.url, fresh());
    expect(complete(await putOpen(small, 0, Buffer.from("hello"))).json()).toMatchObject({ size: "5" });
  });

  it("with a total: finalizes when the body ends exactly there, 400 and nothing kept otherwise", async () => {
    const data = bytes(KIB256 + 10, 2);
    const exact = await startSession(em.url, fresh());
    expect(complete(await putOpen(exact, 0, data, data.length)).json()).toMatchObject({ size: String(data.length) });

    const name = fresh();
    const short = await startSession(em.url, name);
    const shortAnswer = complete(await putOpen(short, 0, data, data.length + 5));
    expect(shortAnswer.status).toBe(400);
    expect(shortAnswer.text).toContain("open end");
    expect(persistedOf(await query(short))).toBe(0);
    expect(em.getObject("bkt", name)).toBeUndefined();

    const long = await startSession(em.url, fresh());
    expect(complete(await putOpen(long, 0, data, data.length - 5)).status).toBe(400);
    expect(persistedOf(await query(long))).toBe(0);
    // The session is still usable, with the total it stated.
    expect(complete(await putOpen(long, 0, data.subarray(0, data.length - 5), data.length - 5)).status).toBe(200);
  });

  it("also works with a Content-Length instead of chunked encoding", async () => {
    const data = bytes(KIB256 + 3, 3);
    const session = await startSession(em.url, fresh());
    const done = complete(await exchange(session, { method: "PUT", headers: { "Content-Range": "bytes 0-*/*" }, body: data }));
    expect(done.json()).toMatchObject({ size: String(data.length) });
  });

  it("continues from the persisted offset, ignoring bytes below it, and refuses a gap", async () => {
    const name = fresh();
    const data = bytes(2 * KIB256 + 99, 4);
    const session = await startSession(em.url, name);
    expect(complete(await putChunk(session, 0, data.subarray(0, KIB256), "*")).status).toBe(308);
    const gap = complete(await putOpen(session, KIB256 + 1, data.subarray(KIB256 + 1)));
    expect(gap.status).toBe(400);
    // Starting below the persisted offset: the overlap is ignored.
    const done = complete(await putOpen(session, 1000, data.subarray(1000)));
    expect(done.json()).toMatchObject({ size: String(data.length), crc32c: crc32cBase64(data) });
    expect(Buffer.from(em.getObject("bkt", name)!.data!).equals(data)).toBe(true);
  });

  it("refuses a total that disagrees with X-Upload-Content-Length, and a body that ends short of it", async () => {
    const data = bytes(1000, 5);
    const declared = { headers: { "X-Upload-Content-Length": String(data.length) } };
    const disagree = await startSession(em.url, fresh(), declared);
    expect(complete(await putOpen(disagree, 0, data, data.length + 1)).status).toBe(400);
    const short = await startSession(em.url, fresh(), declared);
    expect(complete(await putOpen(short, 0, data.subarray(0, 500))).status).toBe(400);
    expect(complete(await putOpen(short, 0, data)).json()).toMatchObject({ size: "1000" });
  });

  it("cut mid-way keeps the 256 KiB-aligned prefix and does not finalize; a status query and chunks resume it", async () => {
    const name = fresh();
    const data = bytes(3 * KIB256 + 5000, 6);
    const session = await startSession(em.url, name);
    await streamAndCut(session, 0, data, 2 * KIB256 + 1234);
    await em.waitForLog(/cut by client/);
    expect(em.getObject("bkt", name)).toBeUndefined();
    const status = await query(session);
    expect(status.status).toBe(308);
    const persisted = persistedOf(status);
    expect(persisted).toBe(2 * KIB256);
    expect(complete(await putChunk(session, persisted, data.subarray(persisted, persisted + KIB256), "*")).status).toBe(308);
    const done = complete(await putChunk(session, persisted + KIB256, data.subarray(persisted + KIB256), data.length));
    expect(done.json()).toMatchObject({ size: String(data.length), crc32c: crc32cBase64(data), md5Hash: md5Base64(data) });
    expect(Buffer.from(em.getObject("bkt", name)!.data!).equals(data)).toBe(true);
  });

  it("checks X-Goog-Hash: a mismatch answers 400, creates nothing and keeps the offset it had", async () => {
    const name = fresh();
    const data = bytes(2 * KIB256 + 1, 7);
    const session = await startSession(em.url, name);
    expect(complete(await putChunk(session, 0, data.subarray(0, KIB256), "*")).status).toBe(308);
    const wrong = complete(await putOpen(session, KIB256, data.subarray(KIB256), "*", { "X-Goog-Hash": `crc32c=${crc32cBase64(Buffer.from("x"))}` }));
    expect(wrong.status).toBe(400);
    expect(wrong.text).toContain("does not match");
    expect(em.getObject("bkt", name)).toBeUndefined();
    expect(persistedOf(await query(session))).toBe(KIB256);
    const md5 = complete(await putOpen(session, KIB256, data.subarray(KIB256), "*", { "X-Goog-Hash": `md5=${md5Base64(Buffer.from("x"))}` }));
    expect(md5.status).toBe(400);
    expect(complete(await putOpen(session, KIB256, data.subarray(KIB256), "*", { "X-Goog-Hash": `crc32c=${crc32cBase64(data)}` })).status).toBe(200);
  });

  it("checks a crc32c declared at start and the preconditions", async () => {
    const data = bytes(5000, 8);
    const declared = await startSession(em.url, fresh(), { resource: { crc32c: crc32cBase64(Buffer.from("nope")) } });
    expect(complete(await putOpen(declared, 0, data)).status).toBe(400);
    const name = fresh();
    const guarded = await startSession(em.url, name, { query: "&ifGenerationMatch=0" });
    const other = await startSession(em.url, name);
    expect(complete(await putOpen(other, 0, data)).status).toBe(200);
    expect(complete(await putOpen(guarded, 0, data)).status).toBe(412);
  });

  it("after finalization answers 200 with the same object", async () => {
    const session = await startSession(em.url, fresh());
    const first = complete(await putOpen(session, 0, Buffer.from("abc")));
    const again = complete(await putOpen(session, 0, Buffer.from("abc")));
    expect(again.json()).toEqual(first.json());
  });
});

describe("open-ended PUT under faults", () => {
  it("return-503-after-NK persists the aligned part and never finalizes", async () => {
    const name = fresh();
    const data = bytes(3 * KIB256 + 10, 9);
    const session = await startSession(em.url, name);
    const id = em.registerFaults({ "storage.objects.insert": ["return-503-after-600K"] });
    const failed = complete(await putOpen(session, 0, data, "*", { "x-retry-test-id": id }));
    expect(failed.status).toBe(503);
    expect(em.getObject("bkt", name)).toBeUndefined();
    expect(persistedOf(await query(session))).toBe(2 * KIB256);
    expect(complete(await putOpen(session, 2 * KIB256, data.subarray(2 * KIB256))).json()).toMatchObject({ size: String(data.length) });
  });

  it("return-reset-connection-after-NK keeps the aligned part; the rest can be sent open-ended again", async () => {
    const name = fresh();
    const data = bytes(2 * KIB256 + 10, 10);
    const session = await startSession(em.url, name);
    const id = em.registerFaults({ "storage.objects.insert": ["return-reset-connection-after-300K"] });
    const outcome = await putOpen(session, 0, data, "*", { "x-retry-test-id": id });
    expect(outcome.ok).toBe(false);
    expect(persistedOf(await query(session))).toBe(KIB256);
    expect(em.getObject("bkt", name)).toBeUndefined();
    const done = complete(await putOpen(session, KIB256, data.subarray(KIB256)));
    expect(done.json()).toMatchObject({ size: String(data.length), crc32c: crc32cBase64(data) });
  });

  it("return-short-ack-NK answers 308 with the short Range instead of finalizing", async () => {
    const data = bytes(2 * KIB256 + 10, 11);
    const session = await startSession(em.url, fresh());
    const id = em.registerFaults({ "storage.objects.insert": ["return-short-ack-256K"] });
    const short = complete(await putOpen(session, 0, data, "*", { "x-retry-test-id": id }));
    expect(short.status).toBe(308);
    expect(persistedOf(short)).toBe(KIB256);
  });

  it("stall-for-Nms-after-NK delays the body, then finalizes normally", async () => {
    const data = bytes(KIB256 + 10, 12);
    const session = await startSession(em.url, fresh());
    const id = em.registerFaults({ "storage.objects.insert": ["stall-for-200ms-after-64K"] });
    const started = Date.now();
    const done = complete(await putOpen(session, 0, data, "*", { "x-retry-test-id": id }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
    expect(done.json()).toMatchObject({ size: String(data.length) });
  });

  it("return-broken-stream-final-chunk-after-NB commits the object, then cuts the response", async () => {
    const name = fresh();
    const data = bytes(KIB256 + 10, 13);
    const session = await startSession(em.url, name);
    const id = em.registerFaults({ "storage.objects.insert": ["return-broken-stream-final-chunk-after-10B"] });
    const outcome = await putOpen(session, 0, data, "*", { "x-retry-test-id": id });
    expect(outcome.ok).toBe(false);
    expect(outcome.body.length).toBe(10);
    expect(em.getObject("bkt", name)?.size).toBe(data.length);
    expect(complete(await query(session)).json()).toMatchObject({ size: String(data.length) });
  });
});
