import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  bytes,
  crc32cBase64,
  exchange,
  http,
  md5Base64,
  startTestEmulator,
  type RawFailure,
  type RawResponse,
  useTestEmulator,
} from "./test-support/raw-http.js";

const MIB = 1024 * 1024;
const { em, fresh } = useTestEmulator("mp/object ");
const path = (name: string): string => `/bkt/${name.split("/").map(encodeURIComponent).join("/")}`;

/** The text of the first `<name>` element (read with a regular expression, not the emulator's parser). */
function tag(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
}

function all(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([^<]*)</${name}>`, "g"))].map((m) => m[1]!);
}

function completeBody(parts: readonly [number, string][]): string {
  return `<CompleteMultipartUpload>${parts.map(([number, etag]) => `<Part><PartNumber>${number}</PartNumber><ETag>${etag}</ETag></Part>`).join("")}</CompleteMultipartUpload>`;
}

async function initiate(name: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await http(`${em.url}${path(name)}?uploads`, { method: "POST", headers });
  expect(response.status, response.text).toBe(200);
  return tag(response.text, "UploadId")!;
}

function putPart(name: string, uploadId: string, partNumber: number | string, body: Buffer, headers: Record<string, string> = {}): Promise<RawResponse> {
  return http(`${em.url}${path(name)}?partNumber=${partNumber}&uploadId=${uploadId}`, { method: "PUT", headers, body });
}

function complete(name: string, uploadId: string, body: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return http(`${em.url}${path(name)}?uploadId=${uploadId}`, { method: "POST", headers: { "Content-Type": "application/xml", ...headers }, body });
}

function xmlError(response: RawResponse): { status: number; code: string | undefined } {
  expect(String(response.headers["content-type"])).toMatch(/^application\/xml/);
  return { status: response.status, code: tag(response.text, "Code") };
}

describe("XML API multipart upload", () => {
  it("initiates, takes parts in any order and in parallel, lists them, and completes into an object with a CRC32C and no MD5", async () => {
    const name = fresh();
    const initiated = await http(`${em.url}${path(name)}?uploads`, {
      method: "POST",
      headers: {
        "Content-Type": "text/csv",
        "Cache-Control": "no-store",
        "x-goog-meta-origin": "test",
        "x-goog-acl": "project-private",
        "x-goog-user-project": "billing-project",
      },
    });
    expect(initiated.status).toBe(200);
    expect(initiated.text).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<InitiateMultipartUploadResult xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/">/);
    expect(tag(initiated.text, "Bucket")).toBe("bkt");
    expect(tag(initiated.text, "Key")).toBe(name);
    const uploadId = tag(initiated.text, "UploadId")!;
    expect(uploadId).toMatch(/^[\w-]{20,}$/);

    const first = bytes(5 * MIB, 1);
    const second = bytes(123_457, 2);
    const [two, one] = await Promise.all([
      putPart(name, uploadId, 2, second, { "x-goog-hash": `crc32c=${crc32cBase64(second)}` }),
      putPart(name, uploadId, 1, first, { "Content-MD5": md5Base64(first), "x-goog-hash": `crc32c=${crc32cBase64(first)},md5=${md5Base64(first)}` }),
    ]);
    expect([one.status, two.status]).toEqual([200, 200]);
    expect(one.headers.etag).toBe(`"${createHash("md5").update(first).digest("hex")}"`);
    expect(one.headers["x-goog-hash"]).toBe(`crc32c=${crc32cBase64(first)},md5=${md5Base64(first)}`);
    expect(em.getMultipartUpload(uploadId)?.parts.map((part) => [part.partNumber, part.size])).toEqual([
      [1, first.length],
      [2, second.length],
    ]);

    const listed = await http(`${em.url}${path(name)}?uploadId=${uploadId}`);
    expect(listed.status).toBe(200);
    expect(tag(listed.text, "UploadId")).toBe(uploadId);
    expect(all(listed.text, "PartNumber")).toEqual(["1", "2"]);
    expect(all(listed.text, "Size")).toEqual([String(first.length), String(second.length)]);
    expect(all(listed.text, "ETag")).toEqual([String(one.headers.etag).replaceAll('"', "&quot;"), String(two.headers.etag).replaceAll('"', "&quot;")]);
    expect(tag(listed.text, "IsTruncated")).toBe("false");

    const done = await complete(name, uploadId, completeBody([[1, String(one.headers.etag)], [2, String(two.headers.etag)]]));
    expect(done.status).toBe(200);
    const whole = Buffer.concat([first, second]);
    expect(done.headers["x-goog-hash"]).toBe(`crc32c=${crc32cBase64(whole)}`);
    expect(tag(done.text, "Bucket")).toBe("bkt");
    expect(tag(done.text, "Key")).toBe(name);
    expect(tag(done.text, "Location")).toBe(`${em.url}${path(name)}`);
    const object = em.getObject("bkt", name)!;
    // Buffer.equals, not toEqual: a deep comparison of megabytes takes seconds.
    expect(Buffer.from(object.data!).equals(whole)).toBe(true);
    expect(object).toMatchObject({ size: whole.length, crc32c: crc32cBase64(whole), md5Hash: undefined, contentType: "text/csv", predefinedAcl: "project-private" });
    expect(object.metadata).toEqual({ origin: "test" });
    expect(object.resource).not.toHaveProperty("md5Hash");
    expect(object.resource).toMatchObject({ cacheControl: "no-store", crc32c: crc32cBase64(whole), size: String(whole.length) });
    // The object's ETag is not an MD5 of anything: not 32 hex digits.
    expect(String(done.headers.etag)).not.toMatch(/^"[0-9a-f]{32}"$/);
    // The metadata GET tells the same story.
    expect((await http(`${em.url}/storage/v1/b/bkt/o/${encodeURIComponent(name)}`)).json()).toMatchObject({ crc32c: crc32cBase64(whole) });
    // The upload is gone: listing, a part, and a second complete all find nothing.
    expect(em.getMultipartUpload(uploadId)).toBeUndefined();
    expect(xmlError(await http(`${em.url}${path(name)}?uploadId=${uploadId}`))).toEqual({ status: 404, code: "NoSuchUpload" });
    expect(xmlError(await complete(name, uploadId, completeBody([[1, String(one.headers.etag)]])))).toEqual({ status: 404, code: "NoSuchUpload" });
  });

  it("computes the object's CRC32C from the parts in discard mode too", async () => {
    const discard = await startTestEmulator({ storage: "discard", md5: false });
    try {
      const name = "d";
      const id = tag((await http(`${discard.url}/bkt/${name}?uploads`, { method: "POST" })).text, "UploadId")!;
      const parts = [bytes(5 * MIB + 3, 4), bytes(5 * MIB, 5), bytes(1, 6)];
      const etags: string[] = [];
      for (const [index, part] of parts.entries()) {
        const response = await http(`${discard.url}/bkt/${name}?partNumber=${index + 1}&uploadId=${id}`, { method: "PUT", body: part });
        expect(response.status).toBe(200);
        expect(response.headers["x-goog-hash"]).toBe(`crc32c=${crc32cBase64(part)}`);
        etags.push(String(response.headers.etag));
      }
      const done = await http(`${discard.url}/bkt/${name}?uploadId=${id}`, { method: "POST", body: completeBody(etags.map((etag, i) => [i + 1, etag])) });
      expect(done.status).toBe(200);
      const object = discard.getObject("bkt", name)!;
      expect(object).toMatchObject({ crc32c: crc32cBase64(Buffer.concat(parts)), size: 10 * MIB + 4 });
      expect(object.data).toBeUndefined();
      // Without MD5 there is nothing to check an MD5 against.
      const refused = await http(`${discard.url}/bkt/x?partNumber=1&uploadId=${tag((await http(`${discard.url}/bkt/x?uploads`, { method: "POST" })).text, "UploadId")!}`, {
        method: "PUT",
        headers: { "Content-MD5": md5Base64(Buffer.from("a")) },
        body: "a",
      });
      expect([refused.status, tag(refused.text, "Code")]).toEqual([400, "InvalidDigest"]);
    } finally {
      await discard.stop();
    }
  });
});

describe("parts", () => {
  it("refuses part numbers outside 1..10000 and unknown uploads", async () => {
    const name = fresh();
    const id = await initiate(name);
    for (const number of ["0", "10001", "abc", "1.5", ""]) {
      expect(xmlError(await putPart(name, id, number, Buffer.from("x"))), number).toEqual({ status: 400, code: "InvalidArgument" });
    }
    expect((await putPart(name, id, 10_000, Buffer.from("x"))).status).toBe(200);
    expect(xmlError(await putPart(name, "no-such-upload", 1, Buffer.from("x")))).toEqual({ status: 404, code: "NoSuchUpload" });
    // An upload id belongs to one object.
    expect(xmlError(await putPart(fresh(), id, 1, Buffer.from("x")))).toEqual({ status: 404, code: "NoSuchUpload" });
  });

  it("checks Content-MD5 and x-goog-hash: BadDigest on a mismatch, InvalidDigest when malformed, and stores nothing", async () => {
    const name = fresh();
    const id = await initiate(name);
    const body = bytes(1000);
    const other = bytes(1000, 9);
    for (const headers of [
      { "Content-MD5": md5Base64(other) } as Record<string, string>,
      { "x-goog-hash": `crc32c=${crc32cBase64(other)}` },
      { "x-goog-hash": `md5=${md5Base64(other)}` },
    ]) {
      expect(xmlError(await putPart(name, id, 1, body, headers))).toEqual({ status: 400, code: "BadDigest" });
    }
    for (const headers of [{ "Content-MD5": "nope" } as Record<string, string>, { "x-goog-hash": "crc32c=AAAA" }, { "x-goog-hash": "sha1=abc" }]) {
      expect(xmlError(await putPart(name, id, 1, body, headers))).toEqual({ status: 400, code: "InvalidDigest" });
    }
    expect(em.getMultipartUpload(id)?.parts).toEqual([]);
    expect((await putPart(name, id, 1, body, { "Content-MD5": md5Base64(body), "x-goog-hash": `crc32c=${crc32cBase64(body)}` })).status).toBe(200);
  });

  it("replaces a part sent again with the same number", async () => {
    const name = fresh();
    const id = await initiate(name);
    const before = await putPart(name, id, 1, bytes(10, 1));
    const after = await putPart(name, id, 1, bytes(20, 2));
    expect(after.headers.etag).not.toBe(before.headers.etag);
    expect(em.getMultipartUpload(id)?.parts).toEqual([{ partNumber: 1, size: 20, etag: after.headers.etag, crc32c: crc32cBase64(bytes(20, 2)) }]);
    expect(xmlError(await complete(name, id, completeBody([[1, String(before.headers.etag)]])))).toEqual({ status: 400, code: "InvalidPart" });
    expect((await complete(name, id, completeBody([[1, String(after.headers.etag)]]))).status).toBe(200);
    expect(Buffer.from(em.getObject("bkt", name)!.data!)).toEqual(bytes(20, 2));
  });

  it("requires the initiate's customer-supplied key on every part and on complete", async () => {
    const key = Buffer.alloc(32, 7);
    const csek = {
      "x-goog-encryption-algorithm": "AES256",
      "x-goog-encryption-key": key.toString("base64"),
      "x-goog-encryption-key-sha256": createHash("sha256").update(key).digest("base64"),
    };
    const name = fresh();
    const id = await initiate(name, csek);
    expect(xmlError(await putPart(name, id, 1, Buffer.from("secret")))).toEqual({ status: 400, code: "CustomerEncryptionKeyIsIncorrect" });
    const other = Buffer.alloc(32, 8);
    const wrong = { ...csek, "x-goog-encryption-key": other.toString("base64"), "x-goog-encryption-key-sha256": createHash("sha256").update(other).digest("base64") };
    expect(xmlError(await putPart(name, id, 1, Buffer.from("secret"), wrong))).toEqual({ status: 400, code: "CustomerEncryptionKeyIsIncorrect" });
    const part = await putPart(name, id, 1, Buffer.from("secret"), csek);
    expect(part.status).toBe(200);
    const body = completeBody([[1, String(part.headers.etag)]]);
    expect(xmlError(await complete(name, id, body))).toEqual({ status: 400, code: "CustomerEncryptionKeyIsIncorrect" });
    expect((await complete(name, id, body, csek)).status).toBe(200);
    expect(em.getObject("bkt", name)?.resource).toMatchObject({ customerEncryption: { encryptionAlgorithm: "AES256", keySha256: csek["x-goog-encryption-key-sha256"] } });
  });

  it("takes a KMS key name, refuses it with a customer-supplied key, and refuses an unknown x-goog-acl", async () => {
    const name = fresh();
    const id = await initiate(name, { "x-goog-encryption-kms-key-name": "projects/p/locations/l/keyRings/r/cryptoKeys/k" });
    const part = await putPart(name, id, 1, Buffer.from("k"));
    expect((await complete(name, id, completeBody([[1, String(part.headers.etag)]]))).status).toBe(200);
    expect(em.getObject("bkt", name)?.resource).toMatchObject({ kmsKeyName: "projects/p/locations/l/keyRings/r/cryptoKeys/k" });
    const key = Buffer.alloc(32, 1);
    const both = await http(`${em.url}${path(fresh())}?uploads`, {
      method: "POST",
      headers: {
        "x-goog-encryption-kms-key-name": "projects/p/k",
        "x-goog-encryption-algorithm": "AES256",
        "x-goog-encryption-key": key.toString("base64"),
        "x-goog-encryption-key-sha256": createHash("sha256").update(key).digest("base64"),
      },
    });
    expect(xmlError(both)).toEqual({ status: 400, code: "InvalidArgument" });
    expect(xmlError(await http(`${em.url}${path(fresh())}?uploads`, { method: "POST", headers: { "x-goog-acl": "everyone" } }))).toEqual({
      status: 400,
      code: "InvalidArgument",
    });
    expect(xmlError(await http(`${em.url}/no-such-bucket/o?uploads`, { method: "POST" }))).toEqual({ status: 404, code: "NoSuchBucket" });
  });
});

describe("complete", () => {
  async function withParts(sizes: number[]): Promise<{ name: string; id: string; etags: string[] }> {
    const name = fresh();
    const id = await initiate(name);
    const etags: string[] = [];
    for (const [index, size] of sizes.entries()) etags.push(String((await putPart(name, id, index + 1, bytes(size, index + 1))).headers.etag));
    return { name, id, etags };
  }

  it("refuses wrong order, repeats, unknown parts, wrong ETags, small parts and malformed documents, changing nothing", async () => {
    const { name, id, etags } = await withParts([5 * MIB, 5 * MIB - 1, 10]);
    const cases: [string, string][] = [
      [completeBody([[2, etags[1]!], [1, etags[0]!]]), "InvalidPartOrder"],
      [completeBody([[1, etags[0]!], [1, etags[0]!]]), "InvalidPartOrder"],
      [completeBody([[1, etags[0]!], [4, etags[1]!]]), "InvalidPart"],
      [completeBody([[1, etags[1]!]]), "InvalidPart"],
      [completeBody([[1, etags[0]!], [2, etags[1]!], [3, etags[2]!]]), "EntityTooSmall"],
      ["<CompleteMultipartUpload></CompleteMultipartUpload>", "MalformedXML"],
      ["<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>", "MalformedXML"],
      ["<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>", "MalformedXML"],
      ["<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag><Size>1</Size></Part></CompleteMultipartUpload>", "MalformedXML"],
      ["<Complete/>", "MalformedXML"],
      ["<CompleteMultipartUpload><Part>", "MalformedXML"],
      ["not xml", "MalformedXML"],
    ];
    for (const [body, code] of cases) expect(xmlError(await complete(name, id, body)), body).toEqual({ status: 400, code });
    expect(em.getObject("bkt", name)).toBeUndefined();
    expect(em.getMultipartUpload(id)?.parts).toHaveLength(3);
    // The last part may be small; parts left out are dropped; ETags may come without their quotes.
    const done = await complete(name, id, completeBody([[1, etags[0]!.replaceAll('"', "")], [3, etags[2]!]]));
    expect(done.status).toBe(200);
    expect(Buffer.from(em.getObject("bkt", name)!.data!).equals(Buffer.concat([bytes(5 * MIB, 1), bytes(10, 3)]))).toBe(true);
  });

  it("checks x-goog-if-generation-match (412 PreconditionFailed, the upload stays) and x-goog-if-metageneration-match", async () => {
    const { name, id, etags } = await withParts([7]);
    const body = completeBody([[1, etags[0]!]]);
    expect((await complete(name, id, body, { "x-goog-if-generation-match": "0" })).status).toBe(200);
    const generation = em.getObject("bkt", name)!.generation;
    const again = await initiate(name);
    const etag = String((await putPart(name, again, 1, Buffer.from("v2"))).headers.etag);
    const second = completeBody([[1, etag]]);
    expect(xmlError(await complete(name, again, second, { "x-goog-if-generation-match": "0" }))).toEqual({ status: 412, code: "PreconditionFailed" });
    expect(xmlError(await complete(name, again, second, { "x-goog-if-metageneration-match": "2" }))).toEqual({ status: 412, code: "PreconditionFailed" });
    expect(xmlError(await complete(name, again, second, { "x-goog-if-generation-match": "x" }))).toEqual({ status: 400, code: "InvalidArgument" });
    expect(em.getMultipartUpload(again)?.parts).toHaveLength(1);
    expect((await complete(name, again, second, { "x-goog-if-generation-match": generation })).status).toBe(200);
    expect(Buffer.from(em.getObject("bkt", name)!.data!).toString()).toBe("v2");
  });
});

describe("abort and list", () => {
  it("abort answers 204 and the parts are gone; later requests get 404 NoSuchUpload", async () => {
    const name = fresh();
    const id = await initiate(name);
    await putPart(name, id, 1, bytes(100));
    expect(em.listMultipartUploads("bkt").map((upload) => upload.uploadId)).toContain(id);
    const aborted = await http(`${em.url}${path(name)}?uploadId=${id}`, { method: "DELETE" });
    expect(aborted.status).toBe(204);
    expect(aborted.body.length).toBe(0);
    expect(em.getMultipartUpload(id)).toBeUndefined();
    expect(em.listMultipartUploads().map((upload) => upload.uploadId)).not.toContain(id);
    expect(xmlError(await putPart(name, id, 2, bytes(10)))).toEqual({ status: 404, code: "NoSuchUpload" });
    expect(xmlError(await http(`${em.url}${path(name)}?uploadId=${id}`, { method: "DELETE" }))).toEqual({ status: 404, code: "NoSuchUpload" });
    expect(em.getObject("bkt", name)).toBeUndefined();
  });

  it("lists parts in pages with max-parts and part-number-marker", async () => {
    const name = fresh();
    const id = await initiate(name);
    for (const number of [3, 1, 2]) await putPart(name, id, number, bytes(number));
    const list = (query: string): Promise<RawResponse> => http(`${em.url}${path(name)}?uploadId=${id}${query}`);
    const first = await list("&max-parts=2");
    expect(all(first.text, "PartNumber")).toEqual(["1", "2"]);
    expect([tag(first.text, "IsTruncated"), tag(first.text, "NextPartNumberMarker"), tag(first.text, "MaxParts")]).toEqual(["true", "2", "2"]);
    const next = await list("&part-number-marker=2");
    expect(all(next.text, "PartNumber")).toEqual(["3"]);
    expect([tag(next.text, "IsTruncated"), tag(next.text, "PartNumberMarker"), tag(next.text, "MaxParts")]).toEqual(["false", "2", "1000"]);
    expect(tag(next.text, "LastModified")).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(xmlError(await list("&max-parts=-1"))).toEqual({ status: 400, code: "InvalidArgument" });
  });
});

describe("faults on multipart requests", () => {
  function register(...instructions: string[]): Record<string, string> {
    return { "x-retry-test-id": em.registerFaults({ "storage.objects.insert": instructions }) };
  }

  it("mp-part#2 / chunk faults hit parts, answered as XML errors; a part cut mid-body is not stored", async () => {
    const headers = register("mp-part#2:return-503", "chunk:return-reset-connection-after-64K");
    const name = fresh();
    const id = await initiate(name, headers);
    expect((await putPart(name, id, 1, bytes(10), headers)).status).toBe(200);
    const failed = await putPart(name, id, 2, bytes(10), headers);
    expect(xmlError(failed)).toEqual({ status: 503, code: "ServiceUnavailable" });
    const reset = await exchange(`${em.url}${path(name)}?partNumber=3&uploadId=${id}`, { method: "PUT", headers, body: bytes(256 * 1024) });
    expect(reset.ok).toBe(false);
    expect(em.getMultipartUpload(id)?.parts.map((part) => part.partNumber)).toEqual([1]);
  });

  it("start: and query: / delete: reach initiate, list and abort", async () => {
    const headers = register("start:return-429", "query:return-500", "mp-abort:return-503");
    const name = fresh();
    expect(xmlError(await http(`${em.url}${path(name)}?uploads`, { method: "POST", headers }))).toEqual({ status: 429, code: "SlowDown" });
    const id = await initiate(name, headers);
    expect((await http(`${em.url}${path(name)}?uploadId=${id}`, { headers })).status).toBe(500);
    expect((await http(`${em.url}${path(name)}?uploadId=${id}`, { method: "DELETE", headers })).status).toBe(503);
    expect((await http(`${em.url}${path(name)}?uploadId=${id}`, { method: "DELETE", headers })).status).toBe(204);
    expect(em.getRetryTest(headers["x-retry-test-id"]!)?.completed).toBe(true);
  });

  it("final:return-broken-stream-final-chunk-after-NB on complete: the object exists, the answer is cut, a retried complete gets NoSuchUpload", async () => {
    const headers = register("final:return-broken-stream-final-chunk-after-20B");
    const name = fresh();
    const id = await initiate(name, headers);
    const etag = String((await putPart(name, id, 1, bytes(99), headers)).headers.etag);
    const body = completeBody([[1, etag]]);
    const cut = await exchange(`${em.url}${path(name)}?uploadId=${id}`, { method: "POST", headers, body });
    expect(cut.ok).toBe(false);
    expect((cut as RawFailure).status).toBe(200);
    expect((cut as RawFailure).body.length).toBe(20);
    expect(em.getObject("bkt", name)?.size).toBe(99);
    expect(xmlError(await complete(name, id, body, headers))).toEqual({ status: 404, code: "NoSuchUpload" });
  });

  it("mp-complete:return-truncated-body-final-chunk-after-NB gives a complete message with cut XML", async () => {
    const headers = register("mp-complete:return-truncated-body-final-chunk-after-30B");
    const name = fresh();
    const id = await initiate(name, headers);
    const etag = String((await putPart(name, id, 1, bytes(5), headers)).headers.etag);
    const response = await complete(name, id, completeBody([[1, etag]]), headers);
    expect([response.status, response.headers["content-length"], response.body.length]).toEqual([200, "30", 30]);
    expect(response.text).toBe('<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult'.slice(0, 30));
    expect(em.getObject("bkt", name)?.size).toBe(5);
  });
});
