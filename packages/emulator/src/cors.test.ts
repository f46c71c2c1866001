import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { http, startTestEmulator, type RawResponse, type TestEmulator } from "./test-support/raw-http.js";

const APP = "https://app.example";
const OTHER = "https://other.example";
let em: TestEmulator;

beforeAll(async () => {
  em = await startTestEmulator({
    buckets: [
      "bkt",
      { name: "strict", cors: [{ origin: [APP], method: ["PUT", "POST"], responseHeader: ["Content-Type", "Range", "Location", "ETag"], maxAgeSeconds: 600 }] },
    ],
  });
});
afterAll(async () => {
  await em.stop();
});

const exposed = (response: RawResponse): string[] => String(response.headers["access-control-expose-headers"] ?? "").split(", ");
const preflight = (url: string, origin: string, method: string, headers?: string): Promise<RawResponse> =>
  http(url, {
    method: "OPTIONS",
    headers: { Origin: origin, "Access-Control-Request-Method": method, ...(headers === undefined ? {} : { "Access-Control-Request-Headers": headers }) },
  });

describe("CORS on the multipart and one-request routes (default policy)", () => {
  it("exposes ETag, X-Goog-Hash, Location and Range on parts and complete, and answers their preflights", async () => {
    const base = `${em.url}/bkt/browser.bin`;
    const initiated = await http(`${base}?uploads`, { method: "POST", headers: { Origin: APP } });
    expect(initiated.headers["access-control-allow-origin"]).toBe(APP);
    const uploadId = /<UploadId>([^<]+)</.exec(initiated.text)![1]!;
    const ask = await preflight(`${base}?partNumber=1&uploadId=${uploadId}`, APP, "PUT", "content-md5,x-goog-hash");
    expect(ask.status).toBe(200);
    expect(ask.headers["access-control-allow-origin"]).toBe(APP);
    expect(ask.headers["access-control-allow-methods"]).toContain("PUT");
    expect(ask.headers["access-control-allow-headers"]).toBe("content-md5,x-goog-hash");
    const part = await http(`${base}?partNumber=1&uploadId=${uploadId}`, { method: "PUT", headers: { Origin: APP }, body: "abc" });
    expect(part.headers["access-control-allow-origin"]).toBe(APP);
    for (const header of ["ETag", "X-Goog-Hash", "Location", "Range"]) expect(exposed(part)).toContain(header);
    const done = await http(`${base}?uploadId=${uploadId}`, {
      method: "POST",
      headers: { Origin: APP },
      body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${String(part.headers.etag)}</ETag></Part></CompleteMultipartUpload>`,
    });
    expect(done.status).toBe(200);
    expect(done.headers["access-control-allow-origin"]).toBe(APP);
    expect(exposed(done)).toEqual(expect.arrayContaining(["ETag", "X-Goog-Hash"]));
    // XML errors carry CORS headers too, so a page can read why it failed.
    const missing = await http(`${base}?uploadId=gone`, { method: "DELETE", headers: { Origin: APP } });
    expect([missing.status, missing.headers["access-control-allow-origin"]]).toEqual([404, APP]);
  });

  it("answers a preflight without requested headers with the upload headers", async () => {
    const ask = await preflight(`${em.url}/upload/storage/v1/b/bkt/o?uploadType=multipart`, APP, "POST");
    expect(String(ask.headers["access-control-allow-headers"])).toMatch(/Content-Range.*Content-MD5.*X-Goog-Hash/);
  });
});

describe("a bucket's CORS configuration (GCS rules)", () => {
  const start = (origin: string): Promise<RawResponse> =>
    http(`${em.url}/upload/storage/v1/b/strict/o?uploadType=resumable&name=s`, { method: "POST", headers: { Origin: origin }, body: "{}" });

  it("allows a listed origin and method, exposing only the rule's response headers", async () => {
    const response = await start(APP);
    expect(response.status).toBe(200);
    expect(response.headers["access-control-allow-origin"]).toBe(APP);
    expect(exposed(response)).toEqual(["Content-Type", "Range", "Location", "ETag"]);
  });

  it("sends no CORS headers to another origin or for another method (the browser reports a CORS error)", async () => {
    const response = await start(OTHER);
    expect(response.status).toBe(200); // the server did the work; only the browser hides the answer
    expect(response.headers["access-control-allow-origin"]).toBeUndefined();
    const get = await http(`${em.url}/storage/v1/b/strict/o`, { headers: { Origin: APP } });
    expect(get.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("answers preflights by the rules: methods, only listed request headers, max age", async () => {
    const url = `${em.url}/upload/storage/v1/b/strict/o?upload_id=x`;
    const ok = await preflight(url, APP, "PUT", "content-type,range");
    expect(ok.headers).toMatchObject({
      "access-control-allow-origin": APP,
      "access-control-allow-methods": "PUT, POST",
      "access-control-allow-headers": "content-type, range",
      "access-control-max-age": "600",
    });
    const unlisted = await preflight(url, APP, "PUT", "content-range");
    expect(unlisted.headers["access-control-allow-origin"]).toBe(APP);
    expect(unlisted.headers["access-control-allow-headers"]).toBeUndefined();
    for (const [origin, method] of [
      [OTHER, "PUT"],
      [APP, "DELETE"],
    ] as const) {
      const refused = await preflight(url, origin, method);
      expect(refused.status).toBe(200);
      expect(Object.keys(refused.headers).filter((header) => header.startsWith("access-control-"))).toEqual([]);
    }
  });

  it("is set through bucket insert, PATCH (null removes it) and setBucketCors, and shown on the bucket", async () => {
    const rules = [{ origin: ["*"], method: ["GET"] }];
    expect((await http(`${em.url}/storage/v1/b`, { method: "POST", body: JSON.stringify({ name: "with-cors", cors: rules }) })).json()).toMatchObject({ cors: rules });
    const get = (): Promise<RawResponse> => http(`${em.url}/storage/v1/b/with-cors`, { headers: { Origin: OTHER } });
    expect((await get()).headers["access-control-allow-origin"]).toBe(OTHER);
    expect((await http(`${em.url}/storage/v1/b/with-cors`, { method: "PATCH", body: JSON.stringify({ cors: [{ origin: [APP], method: ["GET"] }] }) })).status).toBe(200);
    expect((await get()).headers["access-control-allow-origin"]).toBeUndefined();
    const cleared = await http(`${em.url}/storage/v1/b/with-cors`, { method: "PATCH", body: JSON.stringify({ cors: null }) });
    expect(cleared.json()).not.toHaveProperty("cors");
    expect((await get()).headers["access-control-allow-origin"]).toBe(OTHER);
    em.setBucketCors("with-cors", [{ origin: [APP], method: ["GET"] }]);
    expect((await get()).headers["access-control-allow-origin"]).toBeUndefined();
    em.setBucketCors("with-cors", undefined);
    expect((await get()).headers["access-control-allow-origin"]).toBe(OTHER);
  });

  it("refuses malformed rules", async () => {
    for (const cors of [{}, [1], [{ origin: "x" }], [{ maxAgeSeconds: -1 }], [{ methods: ["GET"] }]]) {
      expect((await http(`${em.url}/storage/v1/b`, { method: "POST", body: JSON.stringify({ name: "bad-cors", cors }) })).status, JSON.stringify(cors)).toBe(400);
    }
    expect((await http(`${em.url}/storage/v1/b/bkt`, { method: "PATCH", body: JSON.stringify({ location: "EU" }) })).status).toBe(400);
    expect(() => em.createBucket("bad-cors", { cors: [{ origin: ["a"], method: "PUT" as unknown as string[] }] })).toThrow(RangeError);
    expect(() => em.setBucketCors("no-such-bucket", [])).toThrow(RangeError);
  });
});

describe("cors: false", () => {
  it("sends no CORS headers at all, preflights included, whatever the bucket says", async () => {
    const off = await startTestEmulator({ cors: false, buckets: ["bkt", { name: "ruled", cors: [{ origin: ["*"], method: ["*"] }] }] });
    try {
      for (const bucket of ["bkt", "ruled"]) {
        const start = await http(`${off.url}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&name=o`, { method: "POST", headers: { Origin: APP }, body: "{}" });
        expect(start.status).toBe(200);
        const ask = await preflight(String(start.headers.location), APP, "PUT", "content-range");
        const session = await http(String(start.headers.location), { method: "PUT", headers: { Origin: APP, "Content-Range": "bytes */*" } });
        for (const response of [start, ask, session]) {
          expect(Object.keys(response.headers).filter((header) => header.startsWith("access-control-")), bucket).toEqual([]);
        }
      }
    } finally {
      await off.stop();
    }
  });
});
