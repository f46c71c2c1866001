/**
 * `singleRequest: "auto"` (the default) through the Node adapter against the emulator: a source that
 * ends inside the first chunk is one `uploadType=multipart` request, with the faults of that request
 * (503, reset, a cut response after the object was stored), a 412 after an unknown outcome, and a
 * checksum refused before anything is sent.
 */
import { Readable } from "node:stream";
import { faultHeaders, startEmulator, type Emulator } from "@resumable-gcs/emulator";
import { UploadError, type UploadRetry } from "@resumable-gcs/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generated, crc32cBase64 } from "./test-support/data.js";
import { createUploadStream, type NodeUploadOptions } from "./upload-stream.js";
import { uploadFrom } from "./upload-from.js";

const KIB = 1024;
const CHUNK = 256 * KIB;
const BUCKET = "node-single";
const fastRetry = { initialDelayMs: 5, maxDelayMs: 40 };

let emulator: Emulator;
const lines: string[] = [];
let counter = 0;
beforeAll(async () => {
  emulator = await startEmulator({ buckets: [BUCKET], logger: (line) => lines.push(line) });
});
afterAll(async () => {
  await emulator.stop();
});

function objectName(label: string): string {
  counter += 1;
  return `single/${label}-${counter}`;
}

function options(name: string, extra: Partial<NodeUploadOptions> = {}): NodeUploadOptions {
  return { apiEndpoint: emulator.url, bucket: BUCKET, name, chunkSize: CHUNK, retry: fastRetry, idleTimeoutMs: 2_000, ...extra };
}

/** The upload requests the emulator saw since `from`, as `METHOD uploadType`. */
function uploadRequests(from: number, name: string): string[] {
  const encoded = encodeURIComponent(name);
  return lines
    .slice(from)
    .filter((line) => line.includes(`name=${encoded}`) || line.includes(`name=${name}`))
    .map((line) => `${line.split(" ")[0]} ${/uploadType=(\w+)/.exec(line)?.[1] ?? "-"}`);
}

describe("singleRequest auto (the default) against the emulator", () => {
  for (const transport of ["gaxios", "http"] as const) {
    for (const size of [0, 1, CHUNK - 1]) {
      it(`${size} bytes go as one request, byte-identical, CRC32C and MD5 verified, no session (${transport})`, async () => {
        const data = generated(size, size + 3);
        const name = objectName(`size-${size}`);
        const before = lines.length;
        const stream = createUploadStream(options(name, { transport, checksum: "both", contentType: "text/plain" }));
        const sessions: unknown[] = [];
        stream.on("session", (event) => sessions.push(event));
        await new Promise<void>((resolve, reject) => {
          stream.on("finish", resolve).on("error", reject);
          stream.end(data);
        });
        const object = await stream.done;
        expect(object.size).toBe(String(size));
        expect(object.crc32c).toBe(crc32cBase64(data));
        const stored = emulator.getObject(BUCKET, name)!;
        expect(Buffer.from(stored.data!).equals(data)).toBe(true);
        expect(stored.contentType).toBe("text/plain");
        expect(uploadRequests(before, name)).toEqual(["POST multipart"]);
        expect(sessions).toEqual([]);
        expect(stream.checkpoint()).toBeUndefined();
      });
    }
  }

  it("a source of one chunk or more starts a session (uploadType=resumable)", async () => {
    const data = generated(CHUNK + 1, 5);
    const name = objectName("big");
    const before = lines.length;
    await uploadFrom(Readable.from([data]), options(name));
    expect(uploadRequests(before, name)[0]).toBe("POST resumable");
  });

  it.each([
    ["a 503", "single:return-503"],
    ["a reset", "single:return-reset-connection"],
    ["a reset mid-body", "single:return-reset-connection-after-64K"],
    ["a stall", "single:stall-for-3s-after-64K"],
  ])("survives %s: the whole request is resent, one object with the source's bytes", async (_label, fault) => {
    const data = generated(200 * KIB, 11);
    const name = objectName("fault");
    const headers = faultHeaders(emulator, [fault]);
    const retries: UploadRetry[] = [];
    const object = await uploadFrom(Readable.from([data]), options(name, { extraHeaders: headers, idleTimeoutMs: 1_000 }), (stream) => stream.on("retry", (r) => retries.push(r)));
    expect(object.crc32c).toBe(crc32cBase64(data));
    expect(Buffer.from(emulator.getObject(BUCKET, name)!.data!).equals(data)).toBe(true);
    expect(retries).toHaveLength(1);
    expect(emulator.getRetryTest(headers["x-retry-test-id"])?.completed).toBe(true);
  }, 20_000);

  it("a cut response after the object was stored: the resend writes the same bytes again (no precondition), verified", async () => {
    const data = generated(10 * KIB, 12);
    const name = objectName("cut");
    const headers = faultHeaders(emulator, ["single:return-broken-stream-final-chunk-after-10B"]);
    const object = await uploadFrom(Readable.from([data]), options(name, { extraHeaders: headers }));
    expect(object.crc32c).toBe(crc32cBase64(data));
    expect(Buffer.from(emulator.getObject(BUCKET, name)!.data!).equals(data)).toBe(true);
  });

  it("ifGenerationMatch: 0 after a cut response: the resend's 412 is checked against the object, which is this upload's", async () => {
    const data = generated(10 * KIB, 13);
    const name = objectName("precondition");
    const headers = faultHeaders(emulator, ["single:return-broken-stream-final-chunk-after-10B"]);
    const before = lines.length;
    const object = await uploadFrom(Readable.from([data]), options(name, { extraHeaders: headers, ifGenerationMatch: 0 }));
    expect(object.size).toBe(String(data.length));
    expect(object.crc32c).toBe(crc32cBase64(data));
    const seen = lines.slice(before);
    expect(seen.some((line) => / -> 412/.test(line))).toBe(true);
    expect(seen.some((line) => line.startsWith("GET /storage/v1/b/"))).toBe(true);
  });

  it("ifGenerationMatch: 0 against an existing object of other bytes is precondition-failed", async () => {
    const name = objectName("exists");
    await uploadFrom(Readable.from([Buffer.from("first")]), options(name));
    await expect(uploadFrom(Readable.from([Buffer.from("second")]), options(name, { ifGenerationMatch: 0 }))).rejects.toMatchObject({ code: "precondition-failed", status: 412 });
    expect(Buffer.from(emulator.getObject(BUCKET, name)!.data!).toString()).toBe("first");
  });

  it("a declared CRC32C that the bytes do not have is checksum-mismatch, and nothing is sent", async () => {
    const name = objectName("mismatch");
    const before = lines.length;
    const error = (await uploadFrom(Readable.from([Buffer.from("payload")]), options(name, { metadata: { crc32c: crc32cBase64(Buffer.from("other")) } })).catch((e: unknown) => e)) as UploadError;
    expect(error).toBeInstanceOf(UploadError);
    expect(error.code).toBe("checksum-mismatch");
    expect(error.message).toMatch(/nothing was sent/);
    expect(uploadRequests(before, name)).toEqual([]);
    expect(emulator.getObject(BUCKET, name)).toBeUndefined();
  });

  it('singleRequest: "never" starts a session even for a few bytes', async () => {
    const name = objectName("never");
    const before = lines.length;
    await uploadFrom(Readable.from([Buffer.from("tiny")]), options(name, { singleRequest: "never" }));
    expect(uploadRequests(before, name)[0]).toBe("POST resumable");
  });
});
