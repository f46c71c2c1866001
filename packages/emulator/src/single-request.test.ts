import { describe, expect, it } from "vitest";
import { RelatedReader } from "./single-request.js";
import {
  bytes,
  crc32cBase64,
  exchange,
  http,
  md5Base64,
  sendAndCut,
  type RawFailure,
  type RawResponse,
  useTestEmulator,
} from "./test-support/raw-http.js";

const { em, fresh } = useTestEmulator("single-");

const BOUNDARY = "b0undary-xyz";

function related(metadata: unknown, media: Buffer, mediaType = "text/plain"): Buffer {
  return Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n${JSON.stringify(metadata)}\r\n--${BOUNDARY}\r\nContent-Type: ${mediaType}\r\n\r\n`),
    media,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

function multipartUpload(body: Buffer, query = "", headers: Record<string, string> = {}): Promise<RawResponse> {
  return http(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=multipart${query}`, {
    method: "POST",
    headers: { "Content-Type": `multipart/related; boundary=${BOUNDARY}`, ...headers },
    body,
  });
}

function mediaUpload(name: string, body: Buffer, query = "", headers: Record<string, string> = {}): Promise<RawResponse> {
  return http(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=media&name=${encodeURIComponent(name)}${query}`, { method: "POST", headers, body });
}

describe("uploadType=multipart", () => {
  it("creates the object from the metadata part and the media part, checking the declared crc32c and md5Hash", async () => {
    const name = fresh();
    const media = bytes(70_000);
    const response = await multipartUpload(
      related({ name, metadata: { k: "v" }, cacheControl: "no-cache", crc32c: crc32cBase64(media), md5Hash: md5Base64(media) }, media, "image/png"),
    );
    expect(response.status, response.text).toBe(200);
    expect(response.json()).toMatchObject({ kind: "storage#object", name, size: String(media.length), crc32c: crc32cBase64(media), md5Hash: md5Base64(media) });
    expect(response.headers["x-goog-hash"]).toBe(`crc32c=${crc32cBase64(media)},md5=${md5Base64(media)}`);
    const object = em.getObject("bkt", name)!;
    expect(Buffer.from(object.data!)).toEqual(media);
    expect(object).toMatchObject({ contentType: "image/png", metadata: { k: "v" } });
    expect(object.resource).toMatchObject({ cacheControl: "no-cache" });
  });

  it("refuses a crc32c, md5Hash or X-Goog-Hash that does not match (400), creating nothing", async () => {
    const media = bytes(1000);
    const other = bytes(1000, 5);
    for (const [metadata, headers] of [
      [{ crc32c: crc32cBase64(other) }, {}],
      [{ md5Hash: md5Base64(other) }, {}],
      [{}, { "x-goog-hash": `crc32c=${crc32cBase64(other)}` }],
    ] as const) {
      const name = fresh();
      const response = await multipartUpload(related({ name, ...metadata }, media), "", headers);
      expect(response.status).toBe(400);
      expect(response.json<{ error: { message: string } }>().error.message).toMatch(/does not match/);
      expect(em.getObject("bkt", name)).toBeUndefined();
    }
  });

  it("takes the name from the query, the content type from the metadata first, and applies preconditions (412)", async () => {
    const name = fresh();
    const body = related({ contentType: "application/x-first" }, Buffer.from("one"), "text/ignored");
    expect((await multipartUpload(body, `&name=${name}&ifGenerationMatch=0&predefinedAcl=publicRead`)).status).toBe(200);
    expect(em.getObject("bkt", name)).toMatchObject({ contentType: "application/x-first", predefinedAcl: "publicRead" });
    expect((await multipartUpload(body, `&name=${name}&ifGenerationMatch=0`)).status).toBe(412);
    expect(Buffer.from(em.getObject("bkt", name)!.data!).toString()).toBe("one");
  });

  it.each([
    ["no boundary", `--${BOUNDARY}\r\n`, "text/plain"],
    ["metadata not JSON-typed", `--${BOUNDARY}\r\nContent-Type: text/plain\r\n\r\n{}\r\n--${BOUNDARY}\r\n\r\nx\r\n--${BOUNDARY}--`, undefined],
    ["no media part", `--${BOUNDARY}\r\nContent-Type: application/json\r\n\r\n{}\r\n--${BOUNDARY}--`, undefined],
    ["no closing boundary", `--${BOUNDARY}\r\nContent-Type: application/json\r\n\r\n{}\r\n--${BOUNDARY}\r\n\r\nbytes`, undefined],
    [
      "three parts",
      `--${BOUNDARY}\r\nContent-Type: application/json\r\n\r\n{}\r\n--${BOUNDARY}\r\n\r\nx\r\n--${BOUNDARY}\r\n\r\ny\r\n--${BOUNDARY}--`,
      undefined,
    ],
    ["metadata not JSON", `--${BOUNDARY}\r\nContent-Type: application/json\r\n\r\n{nope\r\n--${BOUNDARY}\r\n\r\nx\r\n--${BOUNDARY}--`, undefined],
  ])("refuses a malformed body (%s) with 400", async (_label, body, contentType) => {
    const name = fresh();
    const headers: Record<string, string> = contentType === undefined ? {} : { "Content-Type": contentType };
    expect((await multipartUpload(Buffer.from(body), `&name=${name}`, headers)).status).toBe(400);
    expect(em.getObject("bkt", name)).toBeUndefined();
  });
});

describe("uploadType=media", () => {
  it("stores the body with the request's Content-Type and checks X-Goog-Hash", async () => {
    const name = fresh();
    const data = bytes(300_000);
    const response = await mediaUpload(name, data, "", { "Content-Type": "application/gzip", "x-goog-hash": `crc32c=${crc32cBase64(data)},md5=${md5Base64(data)}` });
    expect(response.status).toBe(200);
    expect(response.json()).toMatchObject({ name, size: String(data.length), contentType: "application/gzip" });
    expect(Buffer.from(em.getObject("bkt", name)!.data!)).toEqual(data);
    const wrong = await mediaUpload(fresh(), data, "", { "x-goog-hash": `md5=${md5Base64(Buffer.from("x"))}` });
    expect(wrong.status).toBe(400);
  });

  it("creates an empty object, and nothing from a body cut by the client", async () => {
    const empty = fresh();
    expect((await mediaUpload(empty, Buffer.alloc(0))).json()).toMatchObject({ size: "0", crc32c: "AAAAAA==" });
    const cut = fresh();
    await sendAndCut(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=media&name=${cut}`, { method: "POST", body: bytes(600_000), sent: 300_000 });
    await em.waitForLog(new RegExp(`name=${cut} -> cut by client`));
    expect(em.getObject("bkt", cut)).toBeUndefined();
  });

  it("refuses an unknown uploadType and a missing name", async () => {
    expect((await http(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=chunked&name=x`, { method: "POST", body: "x" })).status).toBe(400);
    expect((await http(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=media`, { method: "POST", body: "x" })).status).toBe(400);
  });
});

describe("faults on one-request uploads (kinds single, chunk and final)", () => {
  it("single:return-503, then final:return-truncated-body-final-chunk-after-NB (the object exists), then chunk: resets", async () => {
    const headers = { "x-retry-test-id": em.registerFaults({ "storage.objects.insert": ["single:return-503", "final:return-truncated-body-final-chunk-after-25B", "chunk:return-reset-connection"] }) };
    const name = fresh();
    expect((await mediaUpload(name, Buffer.from("payload"), "", headers)).status).toBe(503);
    expect(em.getObject("bkt", name)).toBeUndefined();
    const truncated = await multipartUpload(related({ name }, Buffer.from("payload")), "", headers);
    expect([truncated.status, truncated.body.length]).toEqual([200, 25]);
    expect(() => truncated.json()).toThrow(SyntaxError);
    expect(em.getObject("bkt", name)?.size).toBe(7);
    const reset = await exchange(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=media&name=${fresh()}`, { method: "POST", headers, body: "x" });
    expect((reset as RawFailure).ok).toBe(false);
  });
});

describe("RelatedReader", () => {
  it("reads the same body split at every byte boundary into the same parts, media containing boundary-like bytes", () => {
    const media = Buffer.from(`x\r\n--${BOUNDARY.slice(0, -1)}y\r\n--not-it\r\n-`);
    const body = related({ name: "split" }, media, "application/octet-stream");
    for (let size = 1; size <= 40; size++) {
      const sunk: Buffer[] = [];
      const reader = new RelatedReader(BOUNDARY, (bytes) => sunk.push(Buffer.from(bytes)));
      for (let at = 0; at < body.length; at += size) reader.push(body.subarray(at, at + size));
      expect(reader.finish(), `pieces of ${size}`).toEqual({ metadata: '{"name":"split"}', mediaType: "application/octet-stream" });
      expect(Buffer.concat(sunk), `pieces of ${size}`).toEqual(media);
    }
  });
});
