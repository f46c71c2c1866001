import { describe, expect, it } from "vitest";
import {
  KIB256,
  bytes,
  exchange,
  http,
  persistedOf,
  putChunk,
  query,
  startSession,
  type RawFailure,
  type RawResponse,
  useTestEmulator,
} from "./test-support/raw-http.js";

const { em, fresh, registerRetryTest } = useTestEmulator("fault-");

const register = registerRetryTest;

const insert = (...instructions: string[]): Promise<string> => register({ "storage.objects.insert": instructions });

describe("retry_test lifecycle", () => {
  it("registers, reports what is left and what was consumed, and deletes", async () => {
    const created = await http(`${em.url}/retry_test`, {
      method: "POST",
      body: JSON.stringify({ instructions: { "storage.objects.insert": ["return-503", "return-429"], "storage.objects.get": ["return-500"] } }),
    });
    expect(created.status).toBe(200);
    const body = created.json<{ id: string; instructions: unknown; completed: boolean }>();
    expect(body).toMatchObject({
      instructions: { "storage.objects.insert": ["return-503", "return-429"], "storage.objects.get": ["return-500"] },
      completed: false,
    });
    const id = body.id;
    // A request without the header consumes nothing.
    await startSession(em.url, fresh());
    expect((await http(`${em.url}/retry_test/${id}`)).json()).toMatchObject({ instructions: { "storage.objects.insert": ["return-503", "return-429"] } });
    const start = (): Promise<RawResponse> =>
      http(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=resumable&name=${fresh()}`, {
        method: "POST",
        headers: { "x-retry-test-id": id },
        body: "{}",
      });
    expect((await start()).status).toBe(503);
    // A request of another method consumes nothing of the insert list.
    expect((await http(`${em.url}/storage/v1/b/bkt`, { headers: { "x-retry-test-id": id } })).status).toBe(200);
    const midway = (await http(`${em.url}/retry_test/${id}`)).json();
    expect(midway).toMatchObject({
      instructions: { "storage.objects.insert": ["return-429"], "storage.objects.get": ["return-500"] },
      consumed: { "storage.objects.insert": ["return-503"] },
      completed: false,
    });
    expect((await start()).status).toBe(429);
    expect((await start()).status).toBe(200);
    expect((await http(`${em.url}/storage/v1/b/bkt/o/nothing`, { headers: { "x-retry-test-id": id } })).status).toBe(500);
    expect(em.getRetryTest(id)).toMatchObject({ completed: true });
    expect((await http(`${em.url}/retry_test/${id}`, { method: "DELETE" })).status).toBe(200);
    expect((await http(`${em.url}/retry_test/${id}`)).status).toBe(404);
    expect((await start()).status).toBe(400); // the id is unknown now
  });

  it("refuses unknown instructions and methods with 400", async () => {
    for (const instructions of [{ "storage.objects.insert": ["return-maybe"] }, { nonsense: ["return-503"] }, "x"]) {
      const response = await http(`${em.url}/retry_test`, { method: "POST", body: JSON.stringify({ instructions }) });
      expect(response.status).toBe(400);
    }
  });

  it("exposes the same registry in-process", () => {
    const id = em.registerFaults({ "storage.objects.insert": ["return-503"] });
    expect(em.getRetryTest(id)).toEqual({ id, instructions: { "storage.objects.insert": ["return-503"] }, consumed: {}, completed: false });
    expect(em.retryTests.getRetryTest(id)?.id).toBe(id);
    expect(() => em.registerFaults({ "storage.objects.insert": ["stall-forever"] })).toThrow(/Unknown instruction/);
    expect(em.deleteRetryTest(id)).toBe(true);
  });
});

describe("return-NNN", () => {
  it.each([408, 429, 500, 502, 503, 504])("answers %i with a JSON error and persists nothing from the chunk", async (status) => {
    const session = await startSession(em.url, fresh());
    const id = await insert(`return-${status}`);
    const response = await putChunk(session, 0, bytes(KIB256), "*", { "x-retry-test-id": id });
    expect(response.ok && response.status).toBe(status);
    expect(response.ok && response.json()).toMatchObject({ error: { code: status, errors: [{ domain: "global" }] } });
    expect((await query(session)).headers.range).toBeUndefined();
    const retried = await putChunk(session, 0, bytes(KIB256), "*", { "x-retry-test-id": id });
    expect(retried.headers?.range).toBe(`bytes=0-${KIB256 - 1}`);
  });

  it("counts status queries and DELETE as storage.objects.insert", async () => {
    const session = await startSession(em.url, fresh());
    const id = await insert("return-503", "return-500");
    expect((await query(session, "*", { "x-retry-test-id": id })).status).toBe(503);
    expect((await http(session, { method: "DELETE", headers: { "x-retry-test-id": id } })).status).toBe(500);
    expect((await http(session, { method: "DELETE", headers: { "x-retry-test-id": id } })).status).toBe(499);
  });
});

describe("return-reset-connection", () => {
  it("resets without a response and persists nothing", async () => {
    const session = await startSession(em.url, fresh());
    const id = await insert("return-reset-connection");
    const response = await putChunk(session, 0, bytes(2 * KIB256), "*", { "x-retry-test-id": id });
    expect(response.ok).toBe(false);
    expect((response as RawFailure).status).toBeUndefined();
    expect((await query(session)).headers.range).toBeUndefined();
  });

  it("resets after N KiB and keeps the 256 KiB-aligned part of them", async () => {
    const session = await startSession(em.url, fresh());
    const id = await insert("return-reset-connection-after-600K");
    const response = await putChunk(session, 0, bytes(4 * KIB256), "*", { "x-retry-test-id": id });
    expect(response.ok).toBe(false);
    expect((await query(session)).headers.range).toBe(`bytes=0-${2 * KIB256 - 1}`);
  });
});

describe("return-NNN-after-NK", () => {
  it.each([
    ["return-503-after-256K", KIB256],
    ["return-503-after-300K", KIB256],
    ["return-503-after-100K", 0],
    ["return-503-after-1024K", 4 * KIB256],
    ["return-500-after-768K", 3 * KIB256],
  ])("%s persists %i bytes of a 1 MiB chunk, then answers the status", async (instruction, persisted) => {
    const session = await startSession(em.url, fresh());
    const id = await insert(instruction);
    const response = await putChunk(session, 0, bytes(4 * KIB256), "*", { "x-retry-test-id": id });
    expect(response.ok && response.status).toBe(Number(instruction.slice(7, 10)));
    expect(persistedOf(await query(session))).toBe(persisted);
  });

  it("never finalizes, even when N covers the whole final chunk", async () => {
    const name = fresh();
    const session = await startSession(em.url, name);
    const id = await insert("return-503-after-1024K");
    const response = await putChunk(session, 0, bytes(KIB256 + 10), KIB256 + 10, { "x-retry-test-id": id });
    expect(response.ok && response.status).toBe(503);
    expect(em.getObject("bkt", name)).toBeUndefined();
    expect(persistedOf(await query(session))).toBe(KIB256);
  });
});

describe("return-short-ack-NK", () => {
  it("persists only N KiB and answers 308 with that Range", async () => {
    const session = await startSession(em.url, fresh());
    const id = await insert("return-short-ack-256K");
    const response = await putChunk(session, 0, bytes(4 * KIB256), "*", { "x-retry-test-id": id });
    expect(response.ok && response.status).toBe(308);
    expect(response.headers?.range).toBe(`bytes=0-${KIB256 - 1}`);
  });

  it("counts N KiB of new bytes when the chunk starts below the persisted offset", async () => {
    const data = bytes(4 * KIB256);
    const session = await startSession(em.url, fresh());
    await putChunk(session, 0, data.subarray(0, KIB256), "*");
    const id = await insert("return-short-ack-256K", "return-503-after-256K");
    const resend = await putChunk(session, 0, data.subarray(0, 3 * KIB256), "*", { "x-retry-test-id": id });
    expect(resend.headers?.range).toBe(`bytes=0-${2 * KIB256 - 1}`);
    const again = await putChunk(session, KIB256, data.subarray(KIB256), "*", { "x-retry-test-id": id });
    expect(again.ok && again.status).toBe(503);
    expect(persistedOf(await query(session))).toBe(3 * KIB256);
  });

  it("turns a final chunk into a 308 the client must resume from", async () => {
    const data = bytes(3 * KIB256 + 7);
    const name = fresh();
    const session = await startSession(em.url, name);
    const id = await insert("return-short-ack-512K");
    const first = await putChunk(session, 0, data, data.length, { "x-retry-test-id": id });
    expect(first.ok && first.status).toBe(308);
    expect(first.headers?.range).toBe(`bytes=0-${2 * KIB256 - 1}`);
    const rest = await putChunk(session, 2 * KIB256, data.subarray(2 * KIB256), data.length, { "x-retry-test-id": id });
    expect(rest.ok && rest.status).toBe(200);
    expect(Buffer.from(em.getObject("bkt", name)!.data!)).toEqual(data);
  });
});

describe("stall-for-Ts-after-NK", () => {
  it("pauses reading, then carries on normally", async () => {
    const session = await startSession(em.url, fresh());
    const id = await insert("stall-for-1s-after-128K");
    const started = Date.now();
    const response = await putChunk(session, 0, bytes(2 * KIB256), "*", { "x-retry-test-id": id });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(response.ok && response.status).toBe(308);
    expect(response.headers?.range).toBe(`bytes=0-${2 * KIB256 - 1}`);
  });

  it("lets a client that gives up during the stall recover with a status query", async () => {
    const session = await startSession(em.url, fresh());
    const id = await insert("stall-for-2s-after-300K");
    const lines = em.lines.length;
    // Give up once the server holds the first 256 KiB block (it stalls 44 KiB later), not after a fixed
    // time: on a loaded machine the body may not even have arrived after a few hundred milliseconds.
    const giveUp = new AbortController();
    const outcome = await new Promise<string>((resolve) => {
      void import("node:http").then(({ request }) => {
        const body = bytes(4 * KIB256);
        const req = request(session, {
          method: "PUT",
          agent: false,
          signal: giveUp.signal,
          headers: { "Content-Range": `bytes 0-${body.length - 1}/*`, "Content-Length": String(body.length), "x-retry-test-id": id },
        });
        req.on("error", (error: NodeJS.ErrnoException) => resolve(error.name));
        req.on("response", () => resolve("response"));
        req.end(body);
        void waitFor(() => em.getUploadSession(session)?.persisted === KIB256, 30_000).then(() => giveUp.abort());
      });
    });
    expect(outcome).toBe("AbortError");
    // While the server is stalled, what arrived before the stall point is already persisted, and the
    // query supersedes the stalled request: whatever of its body the kernel still delivers is not written.
    expect(persistedOf(await query(session))).toBe(KIB256);
    await waitFor(() => em.lines.slice(lines).some((line) => line.includes("[stall-for-2s-after-300K]")), 30_000);
    expect(persistedOf(await query(session))).toBe(KIB256);
  });

  it("delays the answer to a status query (stall at the end of a shorter body)", async () => {
    const session = await startSession(em.url, fresh());
    const id = await insert("stall-for-300ms-after-128K");
    const started = Date.now();
    expect((await query(session, "*", { "x-retry-test-id": id })).status).toBe(308);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });
});

describe("broken streams", () => {
  it("return-broken-stream-final-chunk-after-10B commits the object, then cuts the response after 10 bytes", async () => {
    const data = bytes(KIB256 + 50);
    const name = fresh();
    const session = await startSession(em.url, name);
    const id = await insert("return-broken-stream-final-chunk-after-10B");
    // Requests that do not end the upload pass through and leave the instruction in place.
    const first = await putChunk(session, 0, data.subarray(0, KIB256), "*", { "x-retry-test-id": id });
    expect(first.ok && first.status).toBe(308);
    expect(em.getRetryTest(id)?.instructions["storage.objects.insert"]).toEqual(["return-broken-stream-final-chunk-after-10B"]);
    const last = await putChunk(session, KIB256, data.subarray(KIB256), data.length, { "x-retry-test-id": id });
    expect(last.ok).toBe(false);
    expect((last as RawFailure).status).toBe(200);
    expect((last as RawFailure).body.length).toBe(10);
    expect(em.getObject("bkt", name)?.size).toBe(data.length);
    // Recovery: a status query finds the object final.
    const status = await http(session, { method: "PUT", headers: { "Content-Range": `bytes */${data.length}`, "x-retry-test-id": id }, body: Buffer.alloc(0) });
    expect(status.status).toBe(200);
    expect(status.json().size).toBe(String(data.length));
    expect(em.getRetryTest(id)?.completed).toBe(true);
  });

  it("return-broken-stream cuts a 308 after its headers", async () => {
    const session = await startSession(em.url, fresh());
    const id = await insert("return-broken-stream");
    const response = await putChunk(session, 0, bytes(KIB256), "*", { "x-retry-test-id": id });
    expect(response.ok).toBe(false);
    expect((response as RawFailure).status).toBe(308);
    expect(persistedOf(await query(session))).toBe(KIB256);
  });

  it("return-broken-stream and -after-NK cut a download", async () => {
    const data = bytes(5000);
    const name = fresh();
    await putChunk(await startSession(em.url, name), 0, data, data.length);
    const id = await register({ "storage.objects.get": ["return-broken-stream", "return-broken-stream-after-2K", "return-503"] });
    const media = `${em.url}/download/storage/v1/b/bkt/o/${name}?alt=media`;
    const half = await exchange(media, { headers: { "x-retry-test-id": id } });
    expect(half.ok).toBe(false);
    expect((half as RawFailure).body).toEqual(data.subarray(0, 2500));
    const twoK = await exchange(media, { headers: { "x-retry-test-id": id } });
    expect((twoK as RawFailure).body).toEqual(data.subarray(0, 2048));
    expect((await http(media, { headers: { "x-retry-test-id": id } })).status).toBe(503);
    expect((await http(media, { headers: { "x-retry-test-id": id } })).body).toEqual(data);
  });

  it("-after-NK faults on downloads: a status after the (empty) request body, a reset likewise", async () => {
    const name = fresh();
    await putChunk(await startSession(em.url, name), 0, Buffer.from("abc"), 3);
    const id = await register({ "storage.objects.get": ["return-504-after-0K", "return-reset-connection-after-1K", "stall-for-200ms-after-0K"] });
    const media = `${em.url}/storage/v1/b/bkt/o/${name}?alt=media`;
    expect((await http(media, { headers: { "x-retry-test-id": id } })).status).toBe(504);
    expect((await exchange(media, { headers: { "x-retry-test-id": id } })).ok).toBe(false);
    const started = Date.now();
    expect((await http(media, { headers: { "x-retry-test-id": id } })).text).toBe("abc");
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it("storage.buckets.get faults apply to bucket metadata", async () => {
    const id = await register({ "storage.buckets.get": ["return-500", "return-reset-connection"] });
    expect((await http(`${em.url}/storage/v1/b/bkt`, { headers: { "x-retry-test-id": id } })).status).toBe(500);
    expect((await exchange(`${em.url}/storage/v1/b/bkt`, { headers: { "x-retry-test-id": id } })).ok).toBe(false);
    expect((await http(`${em.url}/storage/v1/b/bkt`, { headers: { "x-retry-test-id": id } })).status).toBe(200);
  });
});

describe("determinism", () => {
  /** A tiny raw-HTTP uploader: on any failure it asks where the upload stands and goes on from there. */
  async function traceUpload(instructions: string[]): Promise<string[]> {
    const data = bytes(5 * KIB256 + 321, 11);
    const name = fresh();
    const session = await startSession(em.url, name);
    const id = await insert(...instructions);
    const trace: string[] = [];
    let offset = 0;
    for (let step = 0; step < 20; step++) {
      const end = Math.min(offset + 2 * KIB256, data.length);
      const total = end === data.length ? data.length : "*";
      const response = await putChunk(session, offset, data.subarray(offset, end), total, { "x-retry-test-id": id });
      trace.push(response.ok ? `${response.status} ${String(response.headers.range ?? "-")}` : `failed ${response.status ?? "-"} ${response.body.length}`);
      if (response.ok && response.status === 200) break;
      if (response.ok && response.status === 308) {
        offset = persistedOf(response);
        continue;
      }
      const status = await query(session, "*", { "x-retry-test-id": id });
      trace.push(`query ${status.status} ${String(status.headers.range ?? "-")}`);
      if (status.status === 200) break;
      offset = persistedOf(status);
    }
    const object = em.getObject("bkt", name);
    trace.push(`object ${object?.size ?? "none"} ${object?.crc32c ?? ""}`);
    expect(Buffer.from(object!.data!)).toEqual(data);
    return trace;
  }

  it("the same instruction list gives the same behaviour, request by request", async () => {
    const instructions = [
      "return-503-after-300K",
      "return-short-ack-256K",
      "return-reset-connection-after-260K",
      "return-429",
      "stall-for-50ms-after-64K",
      "return-reset-connection",
      "return-broken-stream-final-chunk-after-3B",
    ];
    const first = await traceUpload(instructions);
    const second = await traceUpload(instructions);
    expect(second).toEqual(first);
    expect(first).toContain("failed 200 3");
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
