import { describe, expect, it } from "vitest";
import { isoTimestamp, parseCheckpoint, sealCheckpoint, type Checkpoint } from "./checkpoint.js";
import { UploadError } from "./errors.js";
import { UploadDriver } from "./driver.js";
import { UploadMachine } from "./machine.js";
import { FakeClock, runUntilSettled } from "./test-support/fake-clock.js";
import {
  CHUNK,
  SESSION,
  bytesOf,
  crcB64,
  drainEvents,
  drive,
  expectAction,
  expectSend,
  md5B64,
  options,
  r308,
  rObject,
  started,
} from "./harness.test-utils.js";
import { crc32c } from "./test-support/crc32c.js";
import { GcsModel } from "./test-support/gcs-model.js";

function checkpointAfter(content: Uint8Array, persisted: number, opts = options()): Checkpoint {
  const machine = new UploadMachine(opts);
  started(machine);
  machine.write(content.subarray(0, persisted + CHUNK));
  for (let offset = 0; offset < persisted; offset += CHUNK) {
    const chunk = expectSend(machine);
    machine.onResponse(chunk.id, r308(offset + CHUNK), 0);
  }
  machine.abort();
  return JSON.parse(JSON.stringify(machine.checkpoint())) as Checkpoint;
}

function thrownBy(fn: () => unknown): UploadError {
  try {
    fn();
  } catch (error) {
    if (error instanceof UploadError) return error;
    throw error;
  }
  throw new Error("expected a throw");
}

// Whole uploads through the model: seconds on a loaded machine, far below this bound.
describe("checkpoint", { timeout: 30_000 }, () => {
  it("is JSON-serialisable and describes the session, persisted offset and CRC32C of the prefix", () => {
    const content = bytesOf(3 * CHUNK);
    const cp = checkpointAfter(content, 2 * CHUNK);
    expect(cp).toEqual({
      version: 2,
      sessionUri: SESSION,
      resumeOffset: 2 * CHUNK,
      crc32c: crc32c(content.subarray(0, 2 * CHUNK)),
      chunkSize: CHUNK,
      fingerprint: expect.stringMatching(/^fnv1a64:/) as unknown,
      integrity: expect.stringMatching(/^fnv1a64:[0-9a-f]{16}$/) as unknown,
    });
    expect(parseCheckpoint(cp)).toEqual(cp);
  });

  it("a restored machine begins with a status query and continues from the server's answer", () => {
    const content = bytesOf(3 * CHUNK + 5);
    const cp = checkpointAfter(content, CHUNK, options({ checksum: "both" }));
    const machine = UploadMachine.restore(cp, options({ checksum: "both" }));
    expect(machine.state).toBe("resuming");
    expect(machine.resumeOffset).toBe(CHUNK);
    expect(machine.bytesWritten).toBe(CHUNK);
    expect(machine.sessionUri).toBe(SESSION);
    expect(drainEvents(machine)).toMatchObject([{ type: "session", checkpoint: { resumeOffset: CHUNK } }]);
    const query = expectSend(machine);
    expect(query.request).toEqual({ method: "PUT", url: SESSION, headers: { "content-length": "0", "content-range": "bytes */*" }, body: [], bodyLength: 0 });
    machine.write(content.subarray(CHUNK)); // the caller writes from resumeOffset
    machine.end();
    expect(machine.poll(0)).toEqual({ type: "in-flight" });
    machine.onResponse(query.id, r308(CHUNK), 0);
    // MD5 cannot cover the bytes an earlier process sent: only CRC32C from here on.
    expect(drainEvents(machine)).toEqual([{ type: "resumed", checkpointOffset: CHUNK, serverOffset: CHUNK, md5Skipped: true }]);
    const c = expectSend(machine);
    expect(c.request.headers["content-range"]).toBe(`bytes ${CHUNK}-${2 * CHUNK - 1}/${3 * CHUNK + 5}`);
    machine.onResponse(c.id, r308(2 * CHUNK), 0);
    const c2 = expectSend(machine);
    machine.onResponse(c2.id, r308(3 * CHUNK), 0);
    const final = expectSend(machine);
    expect(final.request.headers["x-goog-hash"]).toBe(`crc32c=${crcB64(content)}`);
    machine.onResponse(final.id, rObject(content, { md5Hash: "not-compared" }), 0);
    expect(machine.poll(0).type).toBe("done");
  });

  it("states the total in the query when it is known", () => {
    const content = bytesOf(2 * CHUNK);
    const opts = options({ totalSize: content.length, encryptionKey: { key: Buffer.alloc(32).toString("base64"), sha256: Buffer.alloc(32, 1).toString("base64") } });
    const cp = checkpointAfter(content, CHUNK, opts);
    expect(cp.totalSize).toBe(2 * CHUNK);
    const machine = UploadMachine.restore(cp, opts);
    expect(expectSend(machine).request.headers).toMatchObject({ "content-range": `bytes */${2 * CHUNK}`, "x-goog-encryption-algorithm": "AES256" });
    // A checkpoint that states the total makes it declared for the restored machine too.
    const adopted = UploadMachine.restore(cp, { ...opts, totalSize: undefined });
    expect(adopted.totalSize).toBe(2 * CHUNK);
    expect(() => adopted.write(new Uint8Array(CHUNK + 1))).toThrow(/at most/);
  });

  it("when the server is ahead of the checkpoint, replayed bytes below its offset are absorbed, not sent", () => {
    const content = bytesOf(4 * CHUNK + 9);
    const cp = checkpointAfter(content, CHUNK);
    const machine = UploadMachine.restore(cp, options());
    const query = expectSend(machine);
    machine.onResponse(query.id, r308(3 * CHUNK), 0);
    expect(drainEvents(machine)).toEqual([
      { type: "session", sessionUri: SESSION, checkpoint: cp },
      { type: "resumed", checkpointOffset: CHUNK, serverOffset: 3 * CHUNK, md5Skipped: false },
      { type: "progress", bytesSent: 3 * CHUNK, bytesPersisted: 3 * CHUNK },
    ]);
    expect(machine.bytesPersisted).toBe(3 * CHUNK);
    // The source replays from the checkpoint's offset; the machine wants it.
    let offset = CHUNK;
    while (machine.wantsData && offset < content.length) {
      machine.write(content.subarray(offset, offset + 100_000));
      offset += 100_000;
      expect(machine.bytesBuffered).toBeLessThanOrEqual(Math.max(0, offset - 3 * CHUNK));
    }
    // A checkpoint now claims only what it could checksum.
    const mid = machine.checkpoint()!;
    expect(mid.resumeOffset).toBe(3 * CHUNK);
    expect(mid.crc32c).toBe(crc32c(content.subarray(0, 3 * CHUNK)));
    while (offset < content.length) {
      machine.write(content.subarray(offset, offset + 100_000));
      offset += 100_000;
    }
    machine.end();
    const c = expectSend(machine);
    expect(c.request.headers["content-range"]).toBe(`bytes ${3 * CHUNK}-${4 * CHUNK - 1}/${content.length}`);
    machine.onResponse(c.id, r308(4 * CHUNK), 0);
    const final = expectSend(machine);
    expect(final.request.headers["x-goog-hash"]).toBe(`crc32c=${crcB64(content)}`);
  });

  it("a checkpoint taken while replaying (server ahead, source behind) resumes correctly", () => {
    const content = bytesOf(4 * CHUNK);
    const cp = checkpointAfter(content, CHUNK);
    const machine = UploadMachine.restore(cp, options());
    const query = expectSend(machine);
    machine.onResponse(query.id, r308(3 * CHUNK), 0);
    machine.write(content.subarray(CHUNK, 2 * CHUNK));
    const cp2 = machine.checkpoint()!;
    expect(cp2.resumeOffset).toBe(2 * CHUNK);
    expect(cp2.crc32c).toBe(crc32c(content.subarray(0, 2 * CHUNK)));
    const model = new GcsModel();
    const uri = model.createSession("bkt", "obj");
    // Drive the model to 3 chunks persisted, then resume from cp2 against it.
    model.handle({ method: "PUT", url: uri, headers: { "content-length": String(3 * CHUNK), "content-range": `bytes 0-${3 * CHUNK - 1}/*` }, body: [content.subarray(0, 3 * CHUNK)], bodyLength: 3 * CHUNK });
    // Another session URI is another checkpoint: sealed anew (an edited one would be refused).
    const resumed = UploadMachine.restore(sealCheckpoint({ ...cp2, sessionUri: uri }), options());
    const result = drive(resumed, model, content, { writeSizes: [77_777] });
    expect(result.action.type).toBe("done");
    expect(Buffer.from(model.object("bkt", "obj")!.content!)).toEqual(Buffer.from(content));
    expect(model.violations).toEqual([]);
  });

  it("a server holding fewer bytes than the checkpoint is data-lost", () => {
    const content = bytesOf(3 * CHUNK);
    const machine = UploadMachine.restore(checkpointAfter(content, 2 * CHUNK), options());
    const query = expectSend(machine);
    machine.onResponse(query.id, r308(CHUNK), 0);
    const error = expectAction(machine, "failed").error;
    expect(error.code).toBe("data-lost");
    expect(error.message).toContain(`checkpoint says ${2 * CHUNK} bytes were persisted, the server now holds only ${CHUNK}`);
  });

  it("a session an earlier process already finalized: verifying reads the rest of the source, then done", () => {
    const content = bytesOf(2 * CHUNK + 3);
    const machine = UploadMachine.restore(checkpointAfter(content, CHUNK), options({ checksum: "both" }));
    const query = expectSend(machine);
    machine.onResponse(query.id, rObject(content), 0);
    expect(machine.state).toBe("verifying");
    expect(drainEvents(machine)).toContainEqual({ type: "resumed", checkpointOffset: CHUNK, serverOffset: content.length, md5Skipped: true });
    // The source still feeds (the bug: "write() after the upload was done"); nothing more is sent.
    expect(machine.wantsData).toBe(true);
    for (let offset = CHUNK; offset < content.length; offset += 100_000) {
      machine.write(content.subarray(offset, Math.min(content.length, offset + 100_000)));
      expect(machine.poll(0)).toEqual({ type: "need-data" });
    }
    expect(machine.bytesBuffered).toBe(0);
    machine.end();
    const done = expectAction(machine, "done");
    expect(done).toMatchObject({ object: { size: String(content.length) }, committedBeforeCancel: false });
    expect(machine.checkpoint()).toBeUndefined();
    const tooSmall = UploadMachine.restore(checkpointAfter(content, 2 * CHUNK), options());
    const q2 = expectSend(tooSmall);
    tooSmall.onResponse(q2.id, rObject(content.subarray(0, 10)), 0);
    expect(expectAction(tooSmall, "failed").error.code).toBe("protocol-violation");
  });

  it("a session found final whose bytes differ from the source: checksum-mismatch (CRC32C continued from the checkpoint)", () => {
    const content = bytesOf(2 * CHUNK + 3);
    const other = Uint8Array.from(content);
    other[other.length - 1]! ^= 1;
    const machine = UploadMachine.restore(checkpointAfter(content, CHUNK), options());
    const query = expectSend(machine);
    machine.onResponse(query.id, rObject(content), 0);
    machine.write(other.subarray(CHUNK));
    machine.end();
    const error = expectAction(machine, "failed").error;
    expect(error.code).toBe("checksum-mismatch");
    expect(error.message).toContain(`expected the object's CRC32C to be ${crcB64(other)}, came ${crcB64(content)}`);
    // A source of another length differs as well, whatever its bytes.
    const shorter = UploadMachine.restore(checkpointAfter(content, CHUNK), options());
    const q2 = expectSend(shorter);
    shorter.onResponse(q2.id, rObject(content), 0);
    shorter.write(content.subarray(CHUNK, content.length - 1));
    shorter.end();
    expect(expectAction(shorter, "failed").error).toMatchObject({ code: "checksum-mismatch", message: expect.stringContaining(`came ${content.length - 1}`) as unknown });
  });

  it("a session found final after end() was already called is verified at once; cancel() while verifying reports the object", () => {
    const content = bytesOf(CHUNK + 3);
    const ended = UploadMachine.restore(checkpointAfter(content, CHUNK), options());
    const query = expectSend(ended);
    ended.write(content.subarray(CHUNK));
    ended.end();
    ended.onResponse(query.id, rObject(content), 0);
    expect(expectAction(ended, "done").object.crc32c).toBe(crcB64(content));
    const cancelled = UploadMachine.restore(checkpointAfter(content, CHUNK), options());
    const q2 = expectSend(cancelled);
    cancelled.onResponse(q2.id, rObject(content), 0);
    cancelled.cancel();
    expect(expectAction(cancelled, "done")).toMatchObject({ committedBeforeCancel: true, object: { size: String(content.length) } });
    expect(cancelled.committedBeforeCancel).toBe(true);
  });

  it("a restored session cancelled during its backoff: the DELETE's object answer means done, not a violation", () => {
    const content = bytesOf(CHUNK + 3);
    const machine = UploadMachine.restore(checkpointAfter(content, CHUNK), options());
    const query = expectSend(machine);
    machine.write(content.subarray(CHUNK));
    machine.end();
    machine.onResponse(query.id, { status: 503, headers: {}, body: "" }, 0);
    machine.cancel();
    const del = expectSend(machine, 0);
    expect(del.purpose).toBe("cancel");
    machine.onResponse(del.id, rObject(content), 0);
    expect(expectAction(machine, "done")).toMatchObject({ committedBeforeCancel: true, object: { size: String(content.length) } });
  });

  it("through the driver: a rerun after the object was committed (checkpoint not cleared) verifies and succeeds, every time", async () => {
    const content = bytesOf(3 * CHUNK + 21, 8);
    const model = new GcsModel();
    // The first process: uploads everything; it dies after the commit, before clearing its checkpoint.
    const first = new UploadMachine(options());
    let saved: unknown;
    drive(first, model, content, {
      onStep: (m) => {
        if (!m.isFinished) saved = JSON.parse(JSON.stringify(m.checkpoint() ?? null)) as unknown;
      },
    });
    expect(model.object("bkt", "obj")).toBeDefined();
    for (let rerun = 0; rerun < 2; rerun++) {
      const machine = UploadMachine.restore(saved, options());
      const clock = new FakeClock();
      const driver = new UploadDriver({ machine, transport: model, clock });
      const work = (async () => {
        for (let offset = machine.resumeOffset; offset < content.length; offset += 100_000) {
          await driver.write(content.subarray(offset, Math.min(content.length, offset + 100_000)));
        }
        return driver.end();
      })();
      await expect(runUntilSettled(clock, work)).resolves.toMatchObject({ size: String(content.length), crc32c: crcB64(content) });
      expect(model.log.filter((l) => l.method === "PUT").at(-1)).toMatchObject({ type: "query", outcome: 200 });
    }
  });

  it("a source that ends below what the server holds fails: it is not the same source", () => {
    const content = bytesOf(4 * CHUNK);
    const machine = UploadMachine.restore(checkpointAfter(content, CHUNK), options());
    const query = expectSend(machine);
    machine.onResponse(query.id, r308(3 * CHUNK), 0);
    machine.write(content.subarray(CHUNK, 2 * CHUNK));
    machine.end();
    const error = expectAction(machine, "failed").error;
    expect(error.code).toBe("invalid-checkpoint");
    expect(error.message).toContain(`source ended at ${2 * CHUNK} bytes, but the server already holds ${3 * CHUNK}`);
    // Also when end() comes before the query's answer.
    const early = UploadMachine.restore(checkpointAfter(content, CHUNK), options());
    const q = expectSend(early);
    early.write(content.subarray(CHUNK, 2 * CHUNK));
    early.end();
    early.onResponse(q.id, r308(3 * CHUNK), 0);
    expect(expectAction(early, "failed").error.code).toBe("invalid-checkpoint");
  });

  it("the MD5 survives a restore of a checkpoint taken at offset 0", () => {
    const content = bytesOf(100);
    const machine = new UploadMachine(options({ checksum: "both" }));
    started(machine);
    machine.abort();
    const restored = UploadMachine.restore(machine.checkpoint(), options({ checksum: "both" }));
    const q = expectSend(restored);
    restored.onResponse(q.id, r308(0), 0);
    expect(drainEvents(restored).find((e) => e?.type === "resumed")).toMatchObject({ md5Skipped: false });
    restored.write(content);
    restored.end();
    expect(expectSend(restored).request.headers["x-goog-hash"]).toBe(`crc32c=${crcB64(content)},md5=${md5B64(content)}`);
  });

  it("format v2: a hand-edited checkpoint (session, offset, CRC) fails its integrity check", () => {
    const good = checkpointAfter(bytesOf(2 * CHUNK), CHUNK);
    for (const edited of [{ ...good, sessionUri: `${SESSION}0` }, { ...good, resumeOffset: 0 }, { ...good, crc32c: 1 }, { ...good, totalSize: 3 * CHUNK }, { ...good, integrity: undefined }]) {
      const error = thrownBy(() => UploadMachine.restore(edited, options()));
      expect(error.code).toBe("invalid-checkpoint");
      expect(error.message).toMatch(/^checkpoint: expected integrity fnv1a64:[0-9a-f]{16} .*edited or corrupted/);
    }
    // Unknown extra fields are not part of the format: ignored, and not written back.
    expect(parseCheckpoint({ ...good, note: "mine" })).toEqual(good);
  });

  it("format v1 is still read (persisted, a monotonic createdAt, no integrity) and written back as v2", () => {
    const content = bytesOf(2 * CHUNK);
    const v2 = checkpointAfter(content, CHUNK);
    const v1 = { version: 1, sessionUri: v2.sessionUri, persisted: CHUNK, crc32c: v2.crc32c, chunkSize: CHUNK, fingerprint: v2.fingerprint, createdAt: 1234.5 };
    expect(parseCheckpoint(v1)).toEqual(v2);
    const machine = UploadMachine.restore(v1, options());
    expect(machine.resumeOffset).toBe(CHUNK);
    expect(machine.checkpoint()).toEqual(v2);
    expect(thrownBy(() => parseCheckpoint({ ...v1, persisted: -1 })).message).toContain("expected persisted to be a non-negative integer");
  });

  it("createdAt comes from the injected wall clock, as ISO 8601 UTC, and survives a restore", () => {
    const opts = options({ wallClock: () => Date.UTC(2026, 0, 31, 23, 59, 59, 999) });
    const machine = new UploadMachine(opts);
    started(machine);
    const cp = machine.checkpoint()!;
    expect(cp.createdAt).toBe("2026-01-31T23:59:59.999Z");
    expect(UploadMachine.restore(JSON.parse(JSON.stringify(cp)), opts).checkpoint()).toEqual(cp);
  });

  it("isoTimestamp formats like Date.prototype.toISOString, without Date", () => {
    const samples = [0, 1, 86_399_999, 951_782_400_000, 1_709_164_800_000, 4_102_444_800_000, 253_402_300_799_999, -1, -62_135_596_800_000];
    // Years 0001 to 9999 (toISOString switches to six-digit years outside 0000-9999; no wall clock goes there).
    for (let i = 0; i < 500; i++) samples.push(Math.floor(Math.abs(Math.sin(i + 1)) * 253_402_300_799_999));
    for (const ms of samples) expect(isoTimestamp(ms), String(ms)).toBe(new Date(ms).toISOString());
  });

  describe("a corrupt checkpoint is refused with invalid-checkpoint", () => {
    const good = checkpointAfter(bytesOf(2 * CHUNK), CHUNK);
    const variants: [string, unknown][] = [
      ["not an object", "checkpoint"],
      ["null", null],
      ["an array", [good]],
      ["another version", { ...good, version: 3 }],
      ["no version", { ...good, version: undefined }],
      ["no session URI", { ...good, sessionUri: undefined }],
      ["a relative session URI", { ...good, sessionUri: "/upload?upload_id=x" }],
      ["a negative offset", { ...good, resumeOffset: -1 }],
      ["a fractional offset", { ...good, resumeOffset: 1.5 }],
      ["a string offset", { ...good, resumeOffset: "262144" }],
      ["a CRC beyond 32 bits", { ...good, crc32c: 2 ** 32 }],
      ["a string CRC", { ...good, crc32c: "123" }],
      ["a total below the offset", { ...good, totalSize: 10 }],
      ["a chunk size off the grid", { ...good, chunkSize: 1000 }],
      ["no chunk size", { ...good, chunkSize: undefined }],
      ["an empty fingerprint", { ...good, fingerprint: "" }],
      ["a NaN createdAt", { ...good, createdAt: Number.NaN }],
      ["a createdAt that is no ISO 8601 UTC timestamp", { ...good, createdAt: "yesterday" }],
      ["a v1 offset field in a v2 checkpoint", { ...good, resumeOffset: undefined, persisted: CHUNK }],
    ];
    it.each(variants)("%s", (_label, value) => {
      const error = thrownBy(() => UploadMachine.restore(value, options()));
      expect(error.code).toBe("invalid-checkpoint");
      expect(error.message).toMatch(/^checkpoint: expected/);
    });
  });

  describe("a checkpoint of another upload is refused (fingerprint)", () => {
    const good = checkpointAfter(bytesOf(2 * CHUNK), CHUNK);
    const others: [string, ReturnType<typeof options>][] = [
      ["another object", options({ target: { kind: "json", bucket: "bkt", name: "other" } })],
      ["another bucket", options({ target: { kind: "json", bucket: "bkt2", name: "obj" } })],
      ["another endpoint", options({ target: { kind: "json", bucket: "bkt", name: "obj", endpoint: "http://localhost:9000" } })],
      ["another session", options({ target: { kind: "session", sessionUri: `${SESSION}x` } })],
      ["an encryption key", options({ encryptionKey: { key: Buffer.alloc(32).toString("base64"), sha256: Buffer.alloc(32).toString("base64") } })],
      ["CRC32C off", options({ checksum: "none" })],
    ];
    it.each(others)("%s", (_label, opts) => {
      const error = thrownBy(() => UploadMachine.restore(good, opts));
      expect(error.code).toBe("invalid-checkpoint");
      expect(error.message).toContain("fingerprint");
    });

    it("a checkpoint without CRC32C when the options compute it", () => {
      const { crc32c: _dropped, ...noCrc } = good;
      expect(thrownBy(() => UploadMachine.restore(sealCheckpoint(noCrc), options())).message).toContain("expected a crc32c");
    });

    it("a different declared total", () => {
      const content = bytesOf(2 * CHUNK);
      const cp = checkpointAfter(content, CHUNK, options({ totalSize: content.length }));
      expect(thrownBy(() => UploadMachine.restore(cp, options({ totalSize: content.length + 1 }))).message).toContain("totalSize");
    });

    it("the chunk size may differ", () => {
      expect(UploadMachine.restore(good, options({ chunkSize: 4 * CHUNK })).chunkSize).toBe(4 * CHUNK);
    });
  });

  it("round trip through the model: crash mid-upload, restore in a 'new process', finish", () => {
    const content = bytesOf(5 * CHUNK + 1234, 3);
    const model = new GcsModel({ faults: (info) => (info.index === 3 ? { kind: "reset", afterBytes: 100_000 } : undefined) });
    const first = new UploadMachine(options());
    let steps = 0;
    // Upload until three chunks are persisted, then "crash".
    drive(first, model, content, {
      maxSteps: 1000,
      onStep: (m) => {
        steps++;
        if (m.bytesPersisted >= 3 * CHUNK && !m.isFinished) m.abort("crash");
      },
    });
    expect(steps).toBeGreaterThan(0);
    const saved = JSON.stringify(first.checkpoint());
    const second = UploadMachine.restore(JSON.parse(saved), options());
    const result = drive(second, model, content, { writeSizes: [50_000, 123_456] });
    expect(result.action.type).toBe("done");
    expect(result.trace[0]).toMatchObject({ purpose: "query", range: "bytes */*" });
    const stored = model.object("bkt", "obj")!;
    expect(Buffer.from(stored.content!)).toEqual(Buffer.from(content));
    expect(stored.resource.crc32c).toBe(crcB64(content));
    expect(model.violations).toEqual([]);
  });
});
