import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.js";
import { crcB64, md5B64, nodeChecksums } from "../harness.test-utils.js";
import { decodeUtf8 } from "../utf8.js";
import { MultipartMachine, type MultipartSendAction } from "./multipart-machine.js";
import { MiB, PART, bodyOfRequest, driveMultipart, machineFor, mpOptions, pollAll, sourceOf } from "./multipart.test-utils.js";
import { XmlMultipartModel } from "./xml-multipart-model.js";

const KEY = { key: Buffer.alloc(32, 7).toString("base64"), sha256: Buffer.alloc(32, 9).toString("base64") };

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && Buffer.from(a).equals(Buffer.from(b));
}

describe("MultipartMachine: requests", () => {
  it("initiates with the object's metadata as XML API headers, then sends up to `parallelism` parts at once, each once", () => {
    const m = machineFor({
      metadata: { contentType: "text/plain", cacheControl: "no-cache", metadata: { Color: "blue" } },
      predefinedAcl: "publicRead",
      kmsKeyName: "projects/p/locations/l/keyRings/r/cryptoKeys/k",
      userProject: "billed",
      checksum: "both",
    });
    const first = pollAll(m);
    expect(first.sends).toHaveLength(1);
    const initiate = first.sends[0]!;
    expect(initiate.purpose).toBe("initiate");
    expect(initiate.request.method).toBe("POST");
    expect(initiate.request.url).toBe("https://storage.googleapis.com/bkt/obj?uploads");
    expect(initiate.request.headers).toMatchObject({
      "content-type": "text/plain",
      "cache-control": "no-cache",
      "x-goog-meta-color": "blue",
      "x-goog-acl": "public-read",
      "x-goog-encryption-kms-key-name": "projects/p/locations/l/keyRings/r/cryptoKeys/k",
      "x-goog-user-project": "billed",
    });
    expect(first.action.type).toBe("need-data");
    const source = sourceOf(4 * PART + 100);
    // While the initiate is out, parts are cut (up to parallelism) but none is sent.
    let offset = 0;
    const sends = (): MultipartSendAction[] => {
      const out: MultipartSendAction[] = [];
      for (;;) {
        while (m.wantsData && offset < source.length) {
          m.write(source.subarray(offset, Math.min(source.length, offset + MiB)));
          offset += MiB;
        }
        const { sends: more } = pollAll(m);
        out.push(...more);
        if (more.length === 0 && !(m.wantsData && offset < source.length)) return out;
      }
    };
    expect(sends()).toHaveLength(0);
    // Three parts cut (parallelism), a fourth being filled.
    expect(m.bytesBuffered).toBe(4 * PART);
    expect(m.wantsData).toBe(false);
    m.onResponse(initiate.id, { status: 200, headers: {}, body: "<InitiateMultipartUploadResult><UploadId>up-1-SecretUploadId</UploadId></InitiateMultipartUploadResult>" }, 0);
    expect(m.pollEvent()?.type).toBe("session");
    const parts = sends();
    expect(parts.map((s) => s.partNumber)).toEqual([1, 2, 3]);
    for (const send of parts) {
      const n = send.partNumber!;
      const bytes = source.subarray((n - 1) * PART, n * PART);
      expect(send.request.method).toBe("PUT");
      expect(send.request.url).toBe(`https://storage.googleapis.com/bkt/obj?partNumber=${n}&uploadId=up-1-SecretUploadId`);
      expect(sameBytes(bodyOfRequest(send.request), bytes)).toBe(true);
      expect(send.request.headers["x-goog-hash"]).toBe(`crc32c=${crcB64(bytes)}`);
      expect(send.request.headers["content-md5"]).toBe(md5B64(bytes));
      expect(send.request.headers["x-goog-user-project"]).toBe("billed");
    }
    // Each send is handed out once: polling again gives no send, only the wait for outcomes.
    expect(pollAll(m).sends).toHaveLength(0);
    expect(m.outstandingIds).toHaveLength(3);
  });

  it("releases a part's memory only when its ETag is in hand, and keeps at most (parallelism + 1) parts", () => {
    const m = machineFor({ parallelism: 2 });
    const initiate = pollAll(m).sends[0]!;
    m.onResponse(initiate.id, { status: 200, headers: {}, body: "<InitiateMultipartUploadResult><UploadId>up-XYZ-0123456789</UploadId></InitiateMultipartUploadResult>" }, 0);
    const source = sourceOf(6 * PART);
    let offset = 0;
    const fill = (): void => {
      while (m.wantsData && offset < source.length) {
        m.write(source.subarray(offset, offset + MiB));
        offset += MiB;
      }
    };
    fill();
    const parts = pollAll(m).sends;
    fill();
    parts.push(...pollAll(m).sends);
    fill();
    expect(parts.map((s) => s.partNumber)).toEqual([1, 2]);
    // Two parts out, one being filled: no more data wanted.
    expect(m.wantsData).toBe(false);
    expect(m.bytesBuffered).toBe(3 * PART);
    expect(m.bytesBuffered).toBeLessThanOrEqual(m.memoryBound);
    // A failed part keeps its bytes.
    m.onResponse(parts[1]!.id, { status: 503, headers: {}, body: "" }, 0);
    expect(m.bytesBuffered).toBe(3 * PART);
    m.onResponse(parts[0]!.id, { status: 200, headers: { etag: '"e1"' }, body: "" }, 0);
    expect(m.bytesBuffered).toBe(2 * PART);
    expect(m.bytesPersisted).toBe(PART);
  });

  it("puts the customer-supplied key's headers on every request and refuses md5-only, holds and a known MD5", () => {
    const model = new XmlMultipartModel();
    const m = machineFor({ encryptionKey: KEY });
    const seen: Record<string, string>[] = [];
    const result = driveMultipart(m, model, sourceOf(PART + 5), { intercept: (send) => (seen.push({ ...send.request.headers }), undefined) });
    expect(result.action?.type).toBe("done");
    expect(seen.length).toBeGreaterThanOrEqual(4);
    for (const headers of seen) {
      expect(headers["x-goog-encryption-algorithm"]).toBe("AES256");
      expect(headers["x-goog-encryption-key"]).toBe(KEY.key);
      expect(headers["x-goog-encryption-key-sha256"]).toBe(KEY.sha256);
    }
    const refused = (overrides: Parameters<typeof mpOptions>[0]): string => {
      try {
        new MultipartMachine(mpOptions(overrides));
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).field;
      }
      throw new Error("expected a ValidationError");
    };
    expect(refused({ checksum: "md5" })).toBe("checksum");
    expect(refused({ metadata: { temporaryHold: true } })).toBe("metadata.temporaryHold");
    expect(refused({ metadata: { md5Hash: md5B64(new Uint8Array(1)) } })).toBe("metadata.md5Hash");
    expect(refused({ partSize: PART - 1 })).toBe("partSize");
    expect(refused({ parallelism: 0 })).toBe("parallelism");
    expect(refused({ metadata: { metadata: { k: "é" } } })).toBe("metadata.metadata.k");
    expect(refused({ bucket: "Bad Bucket" })).toBe("target.bucket");
  });
});

describe("MultipartMachine: faults", () => {
  it("retries a failed part alone: the other parts are not sent again", () => {
    const model = new XmlMultipartModel({ faults: ({ type, request }) => (type === "part" && request.url.includes("partNumber=2&") && !request.url.includes("retried") ? (seenTwo++ === 0 ? { kind: "status", status: 503 } : undefined) : undefined) });
    let seenTwo = 0;
    const source = sourceOf(3 * PART + 17);
    const result = driveMultipart(machineFor(), model, source);
    expect(result.action?.type).toBe("done");
    const parts = result.trace.filter((t) => t.purpose === "part").map((t) => t.partNumber);
    expect(parts.filter((n) => n === 2)).toHaveLength(2);
    for (const n of [1, 3, 4]) expect(parts.filter((p) => p === n)).toHaveLength(1);
    expect(result.events.some((e) => e.type === "retry" && e.partNumber === 2)).toBe(true);
    expect(sameBytes(model.object("bkt", "obj")?.content, source)).toBe(true);
  });

  it("after a lost complete answer, resends it; a NoSuchUpload then leads to a metadata lookup that accepts this stream's object", () => {
    let completes = 0;
    const model = new XmlMultipartModel({ faults: ({ type }) => (type === "complete" && completes++ === 0 ? { kind: "lose-response" } : undefined) });
    const source = sourceOf(PART + 3);
    const result = driveMultipart(machineFor(), model, source);
    expect(result.action?.type).toBe("done");
    expect(result.trace.map((t) => `${t.purpose}:${t.outcome}`).slice(-3)).toEqual(["complete:network", "complete:404", "metadata:200"]);
    if (result.action?.type === "done") expect(result.action.object.crc32c).toBe(crcB64(source));
  });

  it("looks the object up after a 200 complete answer whose body was cut, and accepts this stream's object (never a failure about an object that exists)", () => {
    let completes = 0;
    const model = new XmlMultipartModel({ faults: ({ type }) => (type === "complete" && completes++ === 0 ? { kind: "cut-body", bytes: 30 } : undefined) });
    const source = sourceOf(PART + 5);
    const result = driveMultipart(machineFor(), model, source);
    expect(result.action?.type).toBe("done");
    expect(result.trace.map((t) => `${t.purpose}:${t.outcome}`).slice(-2)).toEqual(["complete:200", "metadata:200"]);
    if (result.action?.type === "done") expect(result.action.object.crc32c).toBe(crcB64(source));
    expect(sameBytes(model.object("bkt", "obj")?.content, source)).toBe(true);
  });

  it("looks the object up when the complete answer carries no CRC32C, and fails checksum-mismatch naming what is left", () => {
    const source = sourceOf(PART + 1);
    const quiet = new XmlMultipartModel({ hashOnComplete: false });
    const ok = driveMultipart(machineFor(), quiet, source);
    expect(ok.action?.type).toBe("done");
    expect(ok.trace.at(-1)?.purpose).toBe("metadata");

    const bad = new XmlMultipartModel({ corruptObjectCrc32c: true });
    const failed = driveMultipart(machineFor(), bad, source);
    expect(failed.action?.type).toBe("failed");
    if (failed.action?.type !== "failed") return;
    expect(failed.action.error.code).toBe("checksum-mismatch");
    expect(failed.action.error.message).toMatch(/gs:\/\/bkt\/obj generation \d+ is left in place/);
    expect(bad.object("bkt", "obj")).toBeDefined();

    const deleting = new XmlMultipartModel({ corruptObjectCrc32c: true });
    const deleted = driveMultipart(machineFor({ deleteOnMismatch: true }), deleting, source);
    expect(deleted.action?.type === "failed" && deleted.action.error.code).toBe("checksum-mismatch");
    expect(deleted.action?.type === "failed" && deleted.action.error.message).toMatch(/was deleted/);
    expect(deleted.trace.at(-1)?.purpose).toBe("delete-object");
    expect(deleting.object("bkt", "obj")).toBeUndefined();
  });

  it("sends x-goog-if-generation-match on complete; a 412 aborts the multipart upload and says so", () => {
    const model = new XmlMultipartModel();
    model.putObject("bkt", "obj", new Uint8Array(3));
    let completeHeaders: Record<string, string> = {};
    const result = driveMultipart(machineFor({ ifGenerationMatch: 0 }), model, sourceOf(PART + 9), {
      intercept: (send) => {
        if (send.purpose === "complete") completeHeaders = { ...send.request.headers };
        return undefined;
      },
    });
    expect(completeHeaders["x-goog-if-generation-match"]).toBe("0");
    expect(result.action?.type).toBe("failed");
    if (result.action?.type !== "failed") return;
    expect(result.action.error.code).toBe("precondition-failed");
    expect(result.action.error.message).toMatch(/the multipart upload was aborted: its parts are deleted/);
    expect(result.trace.at(-1)?.purpose).toBe("abort");
    expect(model.activeUploads).toHaveLength(0);
  });

  it("keeps the multipart upload after a failure when onFailure is keep, with a checkpoint to resume", () => {
    const model = new XmlMultipartModel({ faults: ({ type }) => (type === "part" ? { kind: "status", status: 503 } : undefined) });
    const m = machineFor({ onFailure: "keep", retry: { jitter: "none", maxAttempts: 2 } });
    const result = driveMultipart(m, model, sourceOf(PART));
    expect(result.action?.type === "failed" && result.action.error.code).toBe("retries-exhausted");
    expect(result.action?.type === "failed" && result.action.error.message).toMatch(/is kept: resume it from its checkpoint/);
    expect(model.activeUploads).toHaveLength(1);
    expect(m.checkpoint()?.uploadId).toBe(model.activeUploads[0]!.id);
  });

  it("asks for fresh credentials once after a 401, then fails unauthorized on a second", () => {
    let parts = 0;
    const m = machineFor();
    const result = driveMultipart(m, new XmlMultipartModel(), sourceOf(PART), {
      intercept: (send) => {
        if (send.purpose !== "part") return undefined;
        parts++;
        if (parts === 2) expect(send.refreshCredentials).toBe(true);
        return { status: 401, headers: {}, body: "<Error><Code>AuthenticationRequired</Code><Message>no</Message></Error>" };
      },
    });
    expect(parts).toBe(2);
    expect(result.action?.type === "failed" && result.action.error.code).toBe("unauthorized");
  });

  it("fails checksum-mismatch when GCS refuses a part's digest, and protocol-violation for a part answer without an ETag; both abort the upload", () => {
    for (const [answer, code] of [
      [{ status: 400, headers: {}, body: "<Error><Code>BadDigest</Code><Message>The CRC32C you specified did not match what we received.</Message></Error>" }, "checksum-mismatch"],
      [{ status: 200, headers: {}, body: "" }, "protocol-violation"],
    ] as const) {
      const model = new XmlMultipartModel();
      const result = driveMultipart(machineFor(), model, sourceOf(PART + 1), { intercept: (send) => (send.purpose === "part" ? answer : undefined) });
      expect(result.action?.type === "failed" && result.action.error.code).toBe(code);
      expect(result.action?.type === "failed" && result.action.error.message).toMatch(/the multipart upload was aborted/);
      expect(model.activeUploads).toHaveLength(0);
    }
  });

  it("fails auth at once when the credentials cannot be obtained, and checksum-unverifiable when the object has no CRC32C", () => {
    const m = machineFor();
    const initiate = pollAll(m).sends[0]!;
    m.onError(initiate.id, { kind: "auth", cause: new Error("no ADC") }, 0);
    expect(m.poll(0)).toMatchObject({ type: "failed", error: { code: "auth", retryable: false } });

    const result = driveMultipart(machineFor(), new XmlMultipartModel({ hashOnComplete: false }), sourceOf(PART), {
      intercept: (send) => (send.purpose === "metadata" ? { status: 200, headers: {}, body: JSON.stringify({ bucket: "bkt", name: "obj", size: String(PART), generation: "9" }) } : undefined),
    });
    expect(result.action?.type === "failed" && result.action.error.code).toBe("checksum-unverifiable");
    expect(result.action?.type === "failed" && result.action.error.message).toMatch(/exists unverified/);
  });

  it("checks a declared metadata.crc32c before completing: a mismatch completes nothing", () => {
    const model = new XmlMultipartModel();
    const result = driveMultipart(machineFor({ metadata: { crc32c: crcB64(new Uint8Array([1])) } }), model, sourceOf(PART + 2));
    expect(result.action?.type === "failed" && result.action.error.code).toBe("checksum-mismatch");
    expect(result.trace.some((t) => t.purpose === "complete")).toBe(false);
    expect(model.object("bkt", "obj")).toBeUndefined();
    expect(model.activeUploads).toHaveLength(0);
  });
});

describe("MultipartMachine: sizes", () => {
  it("uploads an empty source as one empty part", () => {
    const model = new XmlMultipartModel();
    const result = driveMultipart(machineFor(), model, new Uint8Array(0));
    expect(result.action?.type).toBe("done");
    expect(result.trace.filter((t) => t.purpose === "part").map((t) => t.length)).toEqual([0]);
    expect(model.object("bkt", "obj")?.content.length).toBe(0);
  });

  it("with a declared total, cuts parts of one size and refuses writes beyond it", () => {
    const source = sourceOf(2 * PART + 4);
    const m = machineFor({ totalSize: source.length });
    const model = new XmlMultipartModel();
    const result = driveMultipart(m, model, source);
    expect(result.trace.filter((t) => t.purpose === "part").map((t) => t.length).sort((a, b) => b - a)).toEqual([PART, PART, 4]);
    expect(sameBytes(model.object("bkt", "obj")?.content, source)).toBe(true);
    const other = machineFor({ totalSize: 3 });
    other.write(new Uint8Array(3));
    expect(() => other.write(new Uint8Array(1))).toThrow(/declared totalSize/);
  });
});

describe("MultipartMachine: cancel, abort, resume", () => {
  it("cancel aborts the multipart upload and ends cancelled", () => {
    const model = new XmlMultipartModel();
    const m = machineFor();
    let sent = 0;
    const result = driveMultipart(m, model, sourceOf(4 * PART), {
      intercept: (send) => {
        if (send.purpose === "part" && ++sent === 2) m.cancel();
        return undefined;
      },
    });
    expect(result.action?.type).toBe("cancelled");
    expect(result.trace.filter((t) => t.purpose === "abort").map((t) => t.outcome)).toEqual([204]);
    expect(model.activeUploads).toHaveLength(0);
    expect(m.checkpoint()).toBeUndefined();
  });

  it("abort() with the complete in flight lets it settle: the object GCS committed ends the upload done, not kept", () => {
    const model = new XmlMultipartModel();
    const m = machineFor();
    const source = sourceOf(2 * PART + 9);
    const result = driveMultipart(m, model, source, {
      intercept: (send) => {
        if (send.purpose === "complete") m.abort(new Error("Ctrl-C"));
        return undefined;
      },
    });
    expect(result.action?.type).toBe("done");
    if (result.action?.type === "done") expect(result.action.object.crc32c).toBe(crcB64(source));
    expect(sameBytes(model.object("bkt", "obj")?.content, source)).toBe(true);
  });

  it("abort() while a lost complete waits to be resent looks the object up once: found, the upload is done", () => {
    let completes = 0;
    let lost = false;
    let aborted = false;
    const model = new XmlMultipartModel({ faults: ({ type }) => (type === "complete" && completes++ === 0 ? ((lost = true), { kind: "lose-response" }) : undefined) });
    const m = machineFor();
    const source = sourceOf(PART + 1);
    const result = driveMultipart(m, model, source, {
      onStep: (machine) => {
        if (lost && !aborted) {
          aborted = true;
          machine.abort();
        }
      },
    });
    expect(result.action?.type).toBe("done");
    expect(result.trace.map((t) => `${t.purpose}:${t.outcome}`).slice(-2)).toEqual(["complete:network", "metadata:200"]);
  });

  it("abort() with the complete in flight, which GCS refused transiently: no object exists, so the upload ends kept, resumable", () => {
    const model = new XmlMultipartModel({ faults: ({ type }) => (type === "complete" ? { kind: "status", status: 503 } : undefined) });
    const m = machineFor();
    const result = driveMultipart(m, model, sourceOf(PART + 1), {
      intercept: (send) => {
        if (send.purpose === "complete") m.abort();
        return undefined;
      },
    });
    expect(result.action?.type === "failed" && result.action.error.code).toBe("aborted");
    expect(result.trace.map((t) => `${t.purpose}:${t.outcome}`).slice(-2)).toEqual(["complete:503", "metadata:404"]);
    expect(m.checkpoint()?.parts).toHaveLength(2);
    expect(model.activeUploads).toHaveLength(1);
  });

  it("resumes a killed upload from its JSON checkpoint: lists the parts, sends only the missing ones, verifies the rest", () => {
    const model = new XmlMultipartModel({ listPageSize: 2 });
    const source = sourceOf(6 * PART + 321);
    const first = machineFor({ parallelism: 3 });
    // Part 2 is slow: parts 1, 3, 4 finish before the "crash".
    const held: number[] = [];
    driveMultipart(first, model, source, {
      stopAfterSteps: 12,
      intercept: (send) => {
        if (send.purpose === "part" && send.partNumber === 2) {
          held.push(send.id);
          return "network";
        }
        return undefined;
      },
    });
    first.abort("killed");
    const checkpoint = JSON.parse(JSON.stringify(first.checkpoint())) as unknown;
    const recorded = (checkpoint as { parts: { partNumber: number }[] }).parts.map((p) => p.partNumber);
    expect(recorded).toContain(1);
    expect(recorded).not.toContain(2);
    const second = MultipartMachine.restore(checkpoint, mpOptions({ parallelism: 3 }));
    expect(second.resumeOffset).toBe(PART);
    const result = driveMultipart(second, model, source);
    expect(result.action?.type).toBe("done");
    expect(result.trace.filter((t) => t.purpose === "list").length).toBeGreaterThanOrEqual(2);
    const resent = result.trace.filter((t) => t.purpose === "part").map((t) => t.partNumber);
    for (const n of recorded) expect(resent).not.toContain(n);
    expect(resent).toContain(2);
    expect(result.events.find((e) => e.type === "resumed")).toMatchObject({ resumeOffset: PART, partsKept: recorded.length, partsLost: 0 });
    expect(sameBytes(model.object("bkt", "obj")?.content, source)).toBe(true);
    expect(model.violations).toEqual([]);
  });

  it("refuses a replayed source that differs from the recorded parts, and an edited checkpoint", () => {
    const model = new XmlMultipartModel();
    const source = sourceOf(3 * PART);
    const first = machineFor({ parallelism: 3 });
    driveMultipart(first, model, source, { stopAfterSteps: 8, intercept: (send) => (send.partNumber === 1 ? "network" : undefined) });
    first.abort();
    const checkpoint = first.checkpoint()!;
    expect(checkpoint.parts.map((p) => p.partNumber)).toContain(2);
    const other = Buffer.from(source);
    other.writeUInt8(other.readUInt8(PART + 10) ^ 1, PART + 10);
    const result = driveMultipart(MultipartMachine.restore(checkpoint, mpOptions({ parallelism: 3 })), model, other);
    expect(result.action?.type === "failed" && result.action.error.code).toBe("invalid-checkpoint");
    const edited = { ...checkpoint, parts: checkpoint.parts.map((p) => ({ ...p, size: p.size - 1 })) };
    expect(() => MultipartMachine.restore(edited, mpOptions())).toThrow(/integrity digest/);
    expect(() => MultipartMachine.restore(checkpoint, mpOptions({ name: "other" }))).toThrow(/fingerprint/);
  });

  it("builds the complete body in part-number order with every ETag", () => {
    let body = "";
    driveMultipart(machineFor({ parallelism: 4 }), new XmlMultipartModel(), sourceOf(3 * PART + 1), {
      order: () => 0.99,
      intercept: (send) => {
        if (send.purpose === "complete") body = decodeUtf8(bodyOfRequest(send.request));
        return undefined;
      },
    });
    expect([...body.matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map((m) => Number(m[1]))).toEqual([1, 2, 3, 4]);
    expect(body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<CompleteMultipartUpload><Part><PartNumber>1<\/PartNumber><ETag>&quot;/);
  });
});

describe("MultipartMachine: misuse", () => {
  it("throws on write after end and on unknown ids; a non-bytes write is a ValidationError", () => {
    const m = new MultipartMachine(mpOptions({ checksums: nodeChecksums }));
    expect(() => m.write("text" as unknown as Uint8Array)).toThrow(ValidationError);
    m.end();
    expect(() => m.write(new Uint8Array(1))).toThrow(/after end/);
    expect(() => m.onResponse(99, { status: 200, headers: {}, body: "" }, 0)).toThrow(/outstanding/);
  });
});
