import { describe, expect, it } from "vitest";
import { UploadError, ValidationError } from "../errors.js";
import { crcB64, md5B64, nodeChecksums } from "../harness.test-utils.js";
import type { UploadOptions } from "../options.js";
import { seededRandom } from "../test-support/random.js";
import type { TransportResponse } from "../transport.js";
import { decodeUtf8 } from "../utf8.js";
import { SingleRequestUpload, type SingleRequestSendAction } from "./single-request.js";

const data = new Uint8Array(100 * 1024).map((_, i) => (i * 31) & 255);

function opts(overrides: Partial<UploadOptions> = {}): UploadOptions {
  return { target: { kind: "json", bucket: "bkt", name: "dir/obj.txt" }, random: seededRandom(3), checksums: nodeChecksums, retry: { jitter: "none" }, ...overrides };
}

function objectFor(bytes: Uint8Array, extra: Record<string, unknown> = {}): TransportResponse {
  return { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify({ bucket: "bkt", name: "dir/obj.txt", size: String(bytes.length), generation: "5", crc32c: crcB64(bytes), md5Hash: md5B64(bytes), ...extra }) };
}

function send(upload: SingleRequestUpload, now = 0): SingleRequestSendAction {
  const action = upload.poll(now);
  if (action.type !== "send") throw new Error(`expected a send, came ${action.type}`);
  return action;
}

describe("SingleRequestUpload", () => {
  it("sends metadata and bytes in one multipart/related POST, checksums in the metadata, the caller's bytes by reference", () => {
    const upload = new SingleRequestUpload(
      opts({
        target: { kind: "json", bucket: "bkt", name: "dir/obj.txt", metadata: { contentType: "text/plain", metadata: { a: "b" } }, ifGenerationMatch: 0, predefinedAcl: "publicRead", userProject: "p" },
        checksum: "both",
      }),
      [data],
    );
    const action = send(upload);
    const r = action.request;
    expect(r.method).toBe("POST");
    expect(r.url).toBe("https://storage.googleapis.com/upload/storage/v1/b/bkt/o?uploadType=multipart&name=dir%2Fobj.txt&ifGenerationMatch=0&predefinedAcl=publicRead&userProject=p");
    const boundary = /^multipart\/related; boundary=(\S+)$/.exec(r.headers["content-type"]!)![1]!;
    expect(r.body).toHaveLength(3);
    expect(r.body[1]).toBe(data);
    const total = r.body.reduce((n, v) => n + v.length, 0);
    expect(r.headers["content-length"]).toBe(String(total));
    expect(r.bodyLength).toBe(total);
    const head = decodeUtf8(r.body[0]!);
    const tail = decodeUtf8(r.body[2]!);
    expect(head.startsWith(`--${boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n`)).toBe(true);
    expect(head.endsWith(`\r\n--${boundary}\r\nContent-Type: text/plain\r\n\r\n`)).toBe(true);
    expect(tail).toBe(`\r\n--${boundary}--\r\n`);
    const resource = JSON.parse(head.split("\r\n\r\n")[1]!.split("\r\n")[0]!) as Record<string, unknown>;
    expect(resource).toEqual({ name: "dir/obj.txt", contentType: "text/plain", metadata: { a: "b" }, crc32c: crcB64(data), md5Hash: md5B64(data) });
    expect(upload.poll(0).type).toBe("in-flight");
    upload.onResponse(action.id, objectFor(data), 0);
    const done = upload.poll(0);
    expect(done.type === "done" && done.object.generation).toBe("5");
  });

  it("resends the whole request after a transient fault, and verifies the object it gets", () => {
    const upload = new SingleRequestUpload(opts(), [data.subarray(0, 10), data.subarray(10)]);
    const first = send(upload);
    upload.onResponse(first.id, { status: 503, headers: {}, body: "" }, 0);
    expect(upload.pollEvent()).toMatchObject({ type: "progress" });
    expect(upload.pollEvent()).toMatchObject({ type: "retry", attempt: 1, delayMs: 1000 });
    expect(upload.poll(500)).toEqual({ type: "wait", until: 1000 });
    const second = send(upload, 1000);
    expect(second.request).toBe(first.request);
    upload.onResponse(second.id, objectFor(data, { crc32c: crcB64(new Uint8Array(1)) }), 1000);
    const failed = upload.poll(1000);
    expect(failed.type === "failed" && failed.error.code).toBe("checksum-mismatch");
  });

  it("after a lost answer, a 412 from the retry is checked against the object: this upload's bytes are success", () => {
    const withPrecondition = opts({ target: { kind: "json", bucket: "bkt", name: "dir/obj.txt", ifGenerationMatch: 0 } });
    const upload = new SingleRequestUpload(withPrecondition, [data]);
    const first = send(upload);
    upload.onError(first.id, { kind: "network" }, 0);
    const second = send(upload, 1000);
    upload.onResponse(second.id, { status: 412, headers: {}, body: JSON.stringify({ error: { message: "conditionNotMet" } }) }, 1000);
    const lookup = send(upload, 1000);
    expect(lookup.purpose).toBe("lookup");
    expect(lookup.request).toMatchObject({ method: "GET", url: "https://storage.googleapis.com/storage/v1/b/bkt/o/dir%2Fobj.txt" });
    upload.onResponse(lookup.id, objectFor(data), 1000);
    expect(upload.poll(1000).type).toBe("done");

    const other = new SingleRequestUpload(withPrecondition, [data]);
    const a = send(other);
    other.onError(a.id, { kind: "timeout" }, 0);
    const b = send(other, 1000);
    other.onResponse(b.id, { status: 412, headers: {}, body: "" }, 1000);
    const look = send(other, 1000);
    other.onResponse(look.id, objectFor(new Uint8Array(5)), 1000);
    const failed = other.poll(1000);
    expect(failed.type === "failed" && failed.error.code).toBe("precondition-failed");

    // Without an unknown earlier outcome, a 412 is simply the precondition failing.
    const plain = new SingleRequestUpload(withPrecondition, [data]);
    const c = send(plain);
    plain.onResponse(c.id, { status: 412, headers: {}, body: "" }, 0);
    expect(plain.poll(0)).toMatchObject({ type: "failed", error: { code: "precondition-failed" } });
  });

  it("after a lost answer, any refusal (a 410 here) is checked against the object too: never failed about an object that is this upload's", () => {
    const upload = new SingleRequestUpload(opts(), [data]);
    upload.onError(send(upload).id, { kind: "network" }, 0);
    const second = send(upload, 1000);
    upload.onResponse(second.id, { status: 410, headers: {}, body: JSON.stringify({ error: { message: "gone" } }) }, 1000);
    const lookup = send(upload, 1000);
    expect(lookup.purpose).toBe("lookup");
    upload.onResponse(lookup.id, objectFor(data), 1000);
    expect(upload.poll(1000).type).toBe("done");
  });

  it("a 200 whose body is cut short is looked up, not called a protocol violation", () => {
    const upload = new SingleRequestUpload(opts(), [data]);
    const first = send(upload);
    upload.onResponse(first.id, { status: 200, headers: { "content-type": "application/json" }, body: '{"bucket":"bkt","na' }, 0);
    const lookup = send(upload, 0);
    expect(lookup.purpose).toBe("lookup");
    upload.onResponse(lookup.id, objectFor(data), 0);
    expect(upload.poll(0).type).toBe("done");

    // Without a CRC32C to identify the object, the whole request is resent instead.
    const blind = new SingleRequestUpload(opts({ checksum: "none" }), [data]);
    const a = send(blind);
    blind.onResponse(a.id, { status: 200, headers: {}, body: "{" }, 0);
    expect(blind.poll(0).type).toBe("wait");
    expect(send(blind, 60_000).purpose).toBe("single");
  });

  it("a cancel during the backoff after an unknown outcome looks the object up first: done if it is this upload's, cancelled if not", () => {
    const found = new SingleRequestUpload(opts(), [data]);
    found.onError(send(found).id, { kind: "network" }, 0);
    expect(found.poll(0).type).toBe("wait");
    found.cancel();
    const lookup = send(found, 0);
    expect(lookup.purpose).toBe("lookup");
    found.onResponse(lookup.id, objectFor(data), 0);
    expect(found.poll(0)).toMatchObject({ type: "done", committedBeforeCancel: true });

    const missing = new SingleRequestUpload(opts(), [data]);
    missing.onError(send(missing).id, { kind: "timeout" }, 0);
    missing.cancel();
    const look = send(missing, 0);
    missing.onResponse(look.id, { status: 404, headers: {}, body: "" }, 0);
    expect(missing.poll(0).type).toBe("cancelled");
    expect(missing.error?.code).toBe("cancelled");
  });

  it("picks a boundary that does not occur in the bytes, even across view seams", () => {
    // A random source that repeats: the first boundary drawn is planted in the data, split over two views.
    const probe = new SingleRequestUpload(opts({ random: () => 0.25 }), [new Uint8Array(1)]);
    const planted = /boundary=(\S+)$/.exec(send(probe).request.headers["content-type"]!)![1]!;
    const bytes = new TextEncoder().encode(`xx--${planted}yy`);
    let calls = 0;
    const upload = new SingleRequestUpload(opts({ random: () => (calls++ < 4 ? 0.25 : 0.75) }), [bytes.subarray(0, 9), bytes.subarray(9)]);
    const boundary = /boundary=(\S+)$/.exec(send(upload).request.headers["content-type"]!)![1]!;
    expect(boundary).not.toBe(planted);
  });

  it("refuses what has no one-request form, a body at odds with declared facts, and lets a request in flight settle on cancel", () => {
    expect(() => new SingleRequestUpload(opts({ target: { kind: "session", sessionUri: "https://storage.googleapis.com/upload?upload_id=abcdefghijk" } }), [data])).toThrow(ValidationError);
    expect(() => new SingleRequestUpload(opts({ totalSize: 3 }), [data])).toThrow(/totalSize/);
    expect(() => new SingleRequestUpload(opts({ target: { kind: "json", bucket: "bkt", name: "o", metadata: { crc32c: crcB64(new Uint8Array(2)) } } }), [data])).toThrow(UploadError);
    const upload = new SingleRequestUpload(opts(), [data]);
    const action = send(upload);
    upload.cancel();
    upload.onResponse(action.id, objectFor(data), 0);
    expect(upload.poll(0)).toMatchObject({ type: "done", committedBeforeCancel: true });
    const early = new SingleRequestUpload(opts(), [data]);
    early.cancel();
    expect(early.poll(0).type).toBe("cancelled");
  });
});
