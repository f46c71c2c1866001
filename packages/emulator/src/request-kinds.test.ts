import { describe, expect, it } from "vitest";
import {
  KIB256,
  bytes,
  exchange,
  http,
  persistedOf,
  putChunk,
  query,
  type RawFailure,
  type RawResponse,
  useTestEmulator,
} from "./test-support/raw-http.js";

const { em, fresh, registerRetryTest } = useTestEmulator("kinds-");

const register = (...instructions: string[]): Promise<string> => registerRetryTest({ "storage.objects.insert": instructions });

function start(name: string, id: string): Promise<RawResponse> {
  return http(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=resumable&name=${name}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "x-retry-test-id": id },
    body: "{}",
  });
}

async function session(name: string, id: string): Promise<string> {
  const response = await start(name, id);
  expect(response.status).toBe(200);
  return String(response.headers.location);
}

describe("instructions aimed at a request kind", () => {
  it("start:return-503 fails the session start only; chunks before and after pass", async () => {
    const id = await register("start:return-503");
    expect((await start(fresh(), id)).status).toBe(503);
    const uri = await session(fresh(), id);
    expect((await putChunk(uri, 0, Buffer.from("abc"), 3, { "x-retry-test-id": id })).status).toBe(200);
    expect(em.getRetryTest(id)).toMatchObject({ completed: true, consumed: { "storage.objects.insert": ["start:return-503"] } });
  });

  it("chunk#2:return-reset-connection resets the second chunk; the start and the first chunk pass", async () => {
    const id = await register("chunk#2:return-reset-connection");
    const uri = await session(fresh(), id);
    const data = bytes(3 * KIB256);
    const first = await putChunk(uri, 0, data.subarray(0, KIB256), "*", { "x-retry-test-id": id });
    expect(first.status).toBe(308);
    const second = await putChunk(uri, KIB256, data.subarray(KIB256, 2 * KIB256), "*", { "x-retry-test-id": id });
    expect(second.ok).toBe(false);
    expect((second as RawFailure).status).toBeUndefined();
    expect(persistedOf(await query(uri, "*", { "x-retry-test-id": id }))).toBe(KIB256);
    // The retried second chunk is the third chunk request: it passes.
    expect((await putChunk(uri, KIB256, data.subarray(KIB256), data.length, { "x-retry-test-id": id })).status).toBe(200);
  });

  it("query:return-503 waits for a status query, letting chunks pass", async () => {
    const id = await register("query:return-503");
    const uri = await session(fresh(), id);
    expect((await putChunk(uri, 0, bytes(KIB256), "*", { "x-retry-test-id": id })).status).toBe(308);
    expect((await query(uri, "*", { "x-retry-test-id": id })).status).toBe(503);
    expect(persistedOf(await query(uri, "*", { "x-retry-test-id": id }))).toBe(KIB256);
  });

  it("delete:return-503 fails the cancel once; the retried DELETE cancels (499)", async () => {
    const id = await register("delete:return-503");
    const uri = await session(fresh(), id);
    expect((await query(uri, "*", { "x-retry-test-id": id })).status).toBe(308);
    expect((await http(uri, { method: "DELETE", headers: { "x-retry-test-id": id } })).status).toBe(503);
    expect((await http(uri, { method: "DELETE", headers: { "x-retry-test-id": id } })).status).toBe(499);
  });

  it("final: matches the chunk that reaches the total and an empty bytes */N that finalizes, not other chunks", async () => {
    const id = await register("final:return-503", "final#2:return-500");
    const data = bytes(2 * KIB256);
    const uri = await session(fresh(), id);
    expect((await putChunk(uri, 0, data.subarray(0, KIB256), "*", { "x-retry-test-id": id })).status).toBe(308);
    expect((await putChunk(uri, KIB256, data.subarray(KIB256), data.length, { "x-retry-test-id": id })).status).toBe(503);
    // The exact-multiple ending: all bytes persisted with /*, then an empty finalizing request.
    expect((await putChunk(uri, KIB256, data.subarray(KIB256), "*", { "x-retry-test-id": id })).status).toBe(308);
    expect((await putChunk(uri, 0, Buffer.alloc(0), data.length, { "x-retry-test-id": id })).status).toBe(500);
    expect((await putChunk(uri, 0, Buffer.alloc(0), data.length, { "x-retry-test-id": id })).status).toBe(200);
  });

  it("applies to the XML (signed URL) start as start:", async () => {
    const id = await register("start:return-429");
    const xmlStart = (): Promise<RawResponse> =>
      http(`${em.url}/bkt/${fresh()}`, { method: "POST", headers: { "x-goog-resumable": "start", "x-retry-test-id": id } });
    expect((await xmlStart()).status).toBe(429);
    expect((await xmlStart()).status).toBe(201);
  });

  it("answers an unknown instruction with 400 listing every valid form", async () => {
    const response = await http(`${em.url}/retry_test`, {
      method: "POST",
      body: JSON.stringify({ instructions: { "storage.objects.insert": ["chunk#2:return-soon"] } }),
    });
    expect(response.status).toBe(400);
    const message = response.json<{ error: { message: string } }>().error.message;
    expect(message).toContain("chunk#2:return-soon");
    for (const form of ["return-NNN", "return-reset-connection", "stall-for-Ts-after-NK", "return-truncated-body-final-chunk-after-NB", "start, chunk, query, final, delete"]) {
      expect(message).toContain(form);
    }
  });
});

describe("final-chunk faults: a cut connection and a truncated body", () => {
  it("return-broken-stream-final-chunk-after-NB (the default variant) commits, then cuts the connection mid-body", async () => {
    const name = fresh();
    const id = await register("final:return-broken-stream-final-chunk-after-100B");
    const uri = await session(name, id);
    const response = await putChunk(uri, 0, bytes(1000), 1000, { "x-retry-test-id": id });
    expect(response.ok).toBe(false);
    expect((response as RawFailure).status).toBe(200);
    expect((response as RawFailure).body.length).toBe(100);
    expect(em.getObject("bkt", name)?.size).toBe(1000);
  });

  it("return-truncated-body-final-chunk-after-NB commits, then sends a complete message whose JSON is cut, with a matching Content-Length", async () => {
    const name = fresh();
    const id = await register("return-truncated-body-final-chunk-after-40B");
    const uri = await session(name, id);
    const data = bytes(KIB256 + 5);
    // Not the final request: it passes and leaves the instruction in place.
    expect((await putChunk(uri, 0, data.subarray(0, KIB256), "*", { "x-retry-test-id": id })).status).toBe(308);
    const response = await putChunk(uri, KIB256, data.subarray(KIB256), data.length, { "x-retry-test-id": id });
    expect(response.ok).toBe(true);
    const complete = response as RawResponse;
    expect(complete.status).toBe(200);
    expect(complete.headers["content-length"]).toBe("40");
    expect(complete.headers["transfer-encoding"]).toBeUndefined();
    expect(complete.body.length).toBe(40);
    expect(() => complete.json()).toThrow(SyntaxError);
    // It is the start of the real object resource.
    const status = await query(uri, data.length, { "x-retry-test-id": id });
    expect(status.status).toBe(200);
    expect(status.text.startsWith(complete.text)).toBe(true);
    expect(em.getObject("bkt", name)?.size).toBe(data.length);
  });
});

describe("DELETE of a session whose object is final", () => {
  it("answers 200 with the object resource, and the object stays", async () => {
    const name = fresh();
    const response = await start(name, await register());
    const uri = String(response.headers.location);
    const done = await putChunk(uri, 0, Buffer.from("kept"), 4);
    const cancel = await http(uri, { method: "DELETE" });
    expect(cancel.status).toBe(200);
    expect(cancel.json()).toEqual((done as RawResponse).json());
    expect(cancel.headers["x-goog-hash"]).toMatch(/^crc32c=/);
    expect(em.getObject("bkt", name)?.size).toBe(4);
  });

  it("a cut final response followed by a cancel still finds the object", async () => {
    const name = fresh();
    const id = await register("final:return-broken-stream-final-chunk-after-0B", "delete:return-503");
    const uri = await session(name, id);
    expect((await exchange(uri, { method: "PUT", headers: { "Content-Range": "bytes 0-2/3", "x-retry-test-id": id }, body: "abc" })).ok).toBe(false);
    expect((await http(uri, { method: "DELETE", headers: { "x-retry-test-id": id } })).status).toBe(503);
    const cancel = await http(uri, { method: "DELETE", headers: { "x-retry-test-id": id } });
    expect(cancel.status).toBe(200);
    expect(cancel.json()).toMatchObject({ kind: "storage#object", name, size: "3" });
  });
});
