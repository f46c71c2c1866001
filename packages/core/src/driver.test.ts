import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MIN_UPLOAD_THROUGHPUT, UploadDriver } from "./driver.js";
import { UploadError, UsageError, ValidationError } from "./errors.js";
import { CHUNK, SESSION, bytesOf, crcB64, options, r308, rObject, rStart, rStatus } from "./harness.test-utils.js";
import { UploadMachine, type UploadEvent } from "./machine.js";
import { FakeClock, flushMicrotasks, runUntilSettled } from "./test-support/fake-clock.js";
import { GcsModel, type ModelFault } from "./test-support/gcs-model.js";
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  TransportError,
  type Transport,
  type TransportRequest,
  type TransportResponse,
  type TransportSendOptions,
} from "./transport.js";

interface Call {
  readonly request: TransportRequest;
  readonly options: TransportSendOptions;
  readonly resolve: (response: TransportResponse) => void;
  readonly reject: (error: unknown) => void;
}

/** A transport whose every exchange the test answers by hand. */
class ManualTransport implements Transport {
  readonly specificationVersion = 2;
  readonly capabilities: { readonly uploadProgress: boolean };
  readonly calls: Call[] = [];
  constructor(uploadProgress = true) {
    this.capabilities = { uploadProgress };
  }
  send(request: TransportRequest, options: TransportSendOptions): Promise<TransportResponse> {
    return new Promise((resolve, reject) => {
      this.calls.push({ request, options, resolve, reject });
      options.signal.addEventListener("abort", () => reject(new TransportError("aborted", "aborted")), { once: true });
    });
  }
  get last(): Call {
    return this.calls[this.calls.length - 1]!;
  }
}

function setup(overrides: Parameters<typeof options>[0] = {}, transport: Transport = new GcsModel()) {
  const clock = new FakeClock();
  const events: UploadEvent[] = [];
  const machine = new UploadMachine(options(overrides));
  const driver = new UploadDriver({ machine, transport, clock, onEvent: (e) => events.push(e) });
  return { clock, events, machine, driver, transport };
}

async function uploadAll(driver: UploadDriver, clock: FakeClock, source: Uint8Array, pieces = 65_536): Promise<unknown> {
  const work = (async () => {
    for (let offset = 0; offset < source.length; offset += pieces) await driver.write(source.subarray(offset, offset + pieces));
    return driver.end();
  })();
  return runUntilSettled(clock, work);
}

describe("UploadDriver", () => {
  it("uploads through the model, forwards events in order, and leaves no timer behind", async () => {
    const model = new GcsModel();
    const { clock, events, driver } = setup({}, model);
    const source = bytesOf(3 * CHUNK + 1000);
    const object = (await uploadAll(driver, clock, source)) as Record<string, string>;
    expect(object.size).toBe(String(source.length));
    expect(object.crc32c).toBe(crcB64(source));
    await expect(driver.done).resolves.toBe(object);
    expect(Buffer.from(model.object("bkt", "obj")!.content!)).toEqual(Buffer.from(source));
    expect(events[0]).toMatchObject({ type: "session" });
    expect(events.filter((e) => e.type === "progress").at(-1)).toEqual({ type: "progress", bytesSent: source.length, bytesPersisted: source.length });
    expect(clock.pendingTimers).toBe(0);
    expect(model.violations).toEqual([]);
  });

  it("applies backpressure: write() resolves only once the machine wants data again", async () => {
    const transport = new ManualTransport();
    const { driver, machine } = setup({}, transport);
    await flushMicrotasks();
    transport.last.resolve(rStart());
    await flushMicrotasks();
    await driver.write(new Uint8Array(CHUNK)); // a full chunk, held until a byte beyond it comes: the machine wants more
    expect(transport.calls).toHaveLength(1);
    await driver.write(new Uint8Array(1)); // the chunk goes out; one unsent byte: the machine wants more
    expect(transport.calls).toHaveLength(2);
    expect(transport.last.request.headers["content-range"]).toBe(`bytes 0-${CHUNK - 1}/*`);
    let resolved = false;
    const second = driver.write(new Uint8Array(CHUNK)).then(() => (resolved = true));
    await flushMicrotasks();
    expect(resolved).toBe(false);
    expect(machine.wantsData).toBe(false);
    transport.last.resolve(r308(CHUNK));
    await second;
    expect(resolved).toBe(true);
    expect(transport.calls).toHaveLength(3);
    expect(transport.last.request.headers["content-range"]).toBe(`bytes ${CHUNK}-${2 * CHUNK - 1}/*`);
  });

  it("aborts a stalled request after idleTimeoutMs without progress, then asks and continues", async () => {
    const model = new GcsModel({ faults: (info) => (info.index === 2 ? { kind: "stall", afterBytes: CHUNK } : undefined) });
    const { clock, events, driver } = setup({ retry: { idleTimeoutMs: 5000, jitter: "none" }, chunkSize: 2 * CHUNK }, model);
    const source = bytesOf(4 * CHUNK + 7);
    await uploadAll(driver, clock, source);
    const retry = events.find((e) => e.type === "retry") as Extract<UploadEvent, { type: "retry" }>;
    expect(retry.error.message).toContain("no progress for 5000 ms");
    expect(model.log.map((l) => [l.type, l.contentRange, l.outcome])).toEqual([
      ["start", undefined, 200],
      ["chunk", `bytes 0-${2 * CHUNK - 1}/*`, 308],
      ["chunk", `bytes ${2 * CHUNK}-${4 * CHUNK - 1}/*`, "stall"],
      ["query", `bytes */${4 * CHUNK + 7}`, 308], // end() came while the chunk stalled: the total is known
      ["chunk", `bytes ${3 * CHUNK}-${4 * CHUNK + 6}/${4 * CHUNK + 7}`, 200],
    ]);
    expect(clock.now()).toBe(5000 + 1000);
    expect(clock.pendingTimers).toBe(0);
  });

  it("re-arms the stall timer on every upload-progress report", async () => {
    const transport = new ManualTransport();
    const { driver, clock } = setup({ retry: { idleTimeoutMs: 5000 } }, transport);
    await flushMicrotasks();
    transport.last.resolve(rStart());
    await flushMicrotasks();
    void driver.write(new Uint8Array(CHUNK + 1));
    const call = transport.last;
    expect(call.request.headers["content-range"]).toBe(`bytes 0-${CHUNK - 1}/*`);
    clock.advance(4000);
    call.options.onUploadProgress?.(1000);
    clock.advance(4000);
    call.options.onUploadProgress?.(2000);
    clock.advance(4999);
    expect(call.options.signal.aborted).toBe(false);
    clock.advance(1);
    expect(call.options.signal.aborted).toBe(true);
    expect(call.options.signal.reason).toBeInstanceOf(UploadError);
    await flushMicrotasks();
    expect(clock.pendingTimers).toBe(1); // the backoff before the status query
  });

  it("abort leaves a finalizing request in flight to settle, and done resolves with the object it committed", async () => {
    const transport = new ManualTransport();
    const { driver, machine } = setup({}, transport);
    await flushMicrotasks();
    transport.last.resolve(rStart());
    await flushMicrotasks();
    const content = bytesOf(100);
    await driver.write(content);
    const ended = driver.end();
    await flushMicrotasks();
    const final = transport.last;
    expect(final.request.headers["content-range"]).toBe("bytes 0-99/100");
    driver.abort(new Error("Ctrl-C"));
    expect(final.options.signal.aborted).toBe(false);
    final.resolve(rObject(content));
    await expect(driver.done).resolves.toMatchObject({ size: "100" });
    await expect(ended).resolves.toMatchObject({ size: "100" });
    expect(machine.state).toBe("done");
  });

  it("cancel aborts the request in flight, deletes the session, and rejects done and pending writes", async () => {
    const transport = new ManualTransport();
    const { driver, clock, machine } = setup({}, transport);
    await flushMicrotasks();
    transport.last.resolve(rStart());
    await flushMicrotasks();
    await driver.write(new Uint8Array(CHUNK + 1));
    const chunk = transport.last;
    expect(chunk.request.headers["content-range"]).toBe(`bytes 0-${CHUNK - 1}/*`);
    const pendingWrite = driver.write(new Uint8Array(CHUNK));
    const cancelled = driver.cancel();
    expect(chunk.options.signal.aborted).toBe(true);
    await flushMicrotasks();
    const del = transport.last;
    expect(del.request).toMatchObject({ method: "DELETE", url: SESSION });
    del.resolve({ status: 499, headers: {}, body: "" });
    await cancelled;
    await expect(driver.done).rejects.toMatchObject({ code: "cancelled" });
    await expect(pendingWrite).rejects.toMatchObject({ code: "cancelled" });
    expect(machine.state).toBe("cancelled");
    expect(clock.pendingTimers).toBe(0);
    await driver.cancel(); // resolves again, no-op
    await expect(driver.write(new Uint8Array(1))).rejects.toMatchObject({ code: "cancelled" });
  });

  it("cancel during the session start lets the start finish, then deletes the session it created", async () => {
    const transport = new ManualTransport();
    const { driver, clock, machine } = setup({}, transport);
    await flushMicrotasks();
    const start = transport.last;
    expect(start.request.method).toBe("POST");
    const cancelled = driver.cancel();
    // Aborting the start could leave a session GCS already created alive for a week: let it answer.
    expect(start.options.signal.aborted).toBe(false);
    await flushMicrotasks();
    expect(transport.calls).toHaveLength(1);
    start.resolve(rStart());
    await flushMicrotasks();
    expect(transport.calls).toHaveLength(2);
    const del = transport.last;
    expect(del.request).toMatchObject({ method: "DELETE", url: SESSION });
    del.resolve({ status: 499, headers: {}, body: "" });
    await cancelled;
    await expect(driver.done).rejects.toMatchObject({ code: "cancelled" });
    expect(machine.state).toBe("cancelled");
    expect(clock.pendingTimers).toBe(0);
  });

  it("cancel during a session start that fails ends cancelled without a DELETE or a retry", async () => {
    for (const settle of [(call: Call) => call.resolve(rStatus(503)), (call: Call) => call.reject(new Error("ECONNRESET"))]) {
      const transport = new ManualTransport();
      const { driver, clock } = setup({}, transport);
      await flushMicrotasks();
      const cancelled = driver.cancel();
      expect(transport.last.options.signal.aborted).toBe(false);
      settle(transport.last);
      await cancelled;
      await expect(driver.done).rejects.toMatchObject({ code: "cancelled", message: expect.stringContaining("before a session existed") as unknown });
      expect(transport.calls).toHaveLength(1);
      expect(clock.pendingTimers).toBe(0);
    }
  });

  it("cancel during a session start that stalls ends cancelled once the stall timer fires", async () => {
    const transport = new ManualTransport();
    const { driver, clock } = setup({ retry: { idleTimeoutMs: 5000 } }, transport);
    await flushMicrotasks();
    const cancelled = driver.cancel();
    const start = transport.last;
    clock.advance(4999);
    expect(start.options.signal.aborted).toBe(false);
    clock.advance(1);
    expect(start.options.signal.aborted).toBe(true);
    await cancelled;
    await expect(driver.done).rejects.toMatchObject({ code: "cancelled" });
    expect(transport.calls).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it("abort stops without DELETE; the checkpoint stays; no timers remain", async () => {
    const model = new GcsModel({ faults: (info) => (info.index === 2 ? { kind: "stall" } : undefined) });
    const { driver, clock } = setup({}, model);
    await driver.write(bytesOf(CHUNK));
    await runUntilSettled(clock, driver.write(bytesOf(CHUNK + 1)));
    await flushMicrotasks();
    expect(model.log.at(-1)?.outcome).toBe("stall");
    driver.abort(new Error("process exiting"));
    await expect(driver.done).rejects.toMatchObject({ code: "aborted" });
    await flushMicrotasks();
    expect(model.log.some((l) => l.method === "DELETE")).toBe(false);
    expect(driver.checkpoint()).toMatchObject({ resumeOffset: CHUNK });
    expect(clock.pendingTimers).toBe(0);
    driver.abort(); // no-op
  });

  it("a failure rejects done, pending writes and later writes with the same UploadError", async () => {
    const model = new GcsModel({ faults: (info) => (info.index === 1 ? { kind: "status", status: 403, message: "denied" } : undefined) });
    const { driver, clock } = setup({}, model);
    await driver.write(bytesOf(CHUNK + 1));
    const pending = driver.write(bytesOf(CHUNK));
    await expect(runUntilSettled(clock, driver.done)).rejects.toMatchObject({ code: "unauthorized", status: 403, serverMessage: "denied" });
    const error = await driver.done.catch((e: unknown) => e);
    await expect(pending).rejects.toBe(error);
    await expect(driver.write(bytesOf(1))).rejects.toBe(error);
    await expect(driver.end()).rejects.toBe(error);
    expect(clock.pendingTimers).toBe(0);
  });

  it("retries with clock timers, maps transport rejections by kind, and survives a throwing transport", async () => {
    let calls = 0;
    const model = new GcsModel({ faults: [undefined, { kind: "truncate" }, { kind: "status", status: 503 }] });
    const transport: Transport = {
      specificationVersion: 2,
      capabilities: model.capabilities,
      send(request, opts) {
        calls++;
        if (calls === 4) throw new Error("synchronous explosion");
        return model.send(request, opts);
      },
    };
    const { driver, clock, events } = setup({ retry: { jitter: "none" } }, transport);
    const source = bytesOf(2 * CHUNK);
    await uploadAll(driver, clock, source);
    const retries = events.filter((e): e is Extract<UploadEvent, { type: "retry" }> => e.type === "retry");
    expect(retries.map((r) => [r.attempt, r.delayMs])).toEqual([
      [1, 1000],
      [2, 2000],
      [3, 4000],
    ]);
    expect(retries[0]!.error.message).toContain("cut short");
    expect(retries[1]!.error.status).toBe(503);
    expect(retries[2]!.error.cause).toBeInstanceOf(Error);
    expect(clock.pendingTimers).toBe(0);
  });

  it("an onEvent handler that throws aborts the upload with its error as the cause", async () => {
    const clock = new FakeClock();
    const boom = new Error("handler bug");
    const machine = new UploadMachine(options());
    const driver = new UploadDriver({
      machine,
      transport: new GcsModel(),
      clock,
      onEvent: (e) => {
        if (e.type === "session") throw boom;
      },
    });
    const error = (await runUntilSettled(clock, driver.done).catch((e: unknown) => e)) as UploadError;
    expect(error.code).toBe("aborted");
    expect(error.cause).toBe(boom);
    expect(clock.pendingTimers).toBe(0);
  });

  it("refuses misuse with rejections, and malformed options synchronously", async () => {
    const { driver } = setup();
    await expect(driver.write("text" as unknown as Uint8Array)).rejects.toBeInstanceOf(ValidationError);
    expect(driver.end()).toBeInstanceOf(Promise);
    await expect(driver.end()).rejects.toBeInstanceOf(UsageError);
    expect(() => new UploadDriver({ machine: {} as UploadMachine, transport: new GcsModel(), clock: new FakeClock() })).toThrow(ValidationError);
    expect(() => new UploadDriver({ machine: new UploadMachine(options()), transport: {} as Transport, clock: new FakeClock() })).toThrow(/transport/);
    const v1 = { send: () => Promise.reject(new Error("unused")) } as unknown as Transport;
    expect(() => new UploadDriver({ machine: new UploadMachine(options()), transport: v1, clock: new FakeClock() })).toThrow(/specificationVersion 2/);
    const noCapabilities = { specificationVersion: 2, send: () => Promise.reject(new Error("unused")) } as unknown as Transport;
    expect(() => new UploadDriver({ machine: new UploadMachine(options()), transport: noCapabilities, clock: new FakeClock() })).toThrow(/capabilities/);
    expect(() => new UploadDriver({ machine: new UploadMachine(options()), transport: new GcsModel(), clock: new FakeClock(), maxResponseBytes: 0 })).toThrow(/maxResponseBytes/);
    expect(() => new UploadDriver({ machine: new UploadMachine(options()), transport: new GcsModel(), clock: { now: () => 0 } as never })).toThrow(/clock/);
  });

  it("never leaves an unhandled rejection, even when nobody awaits anything", async () => {
    const model = new GcsModel({ faults: () => ({ kind: "status", status: 400 }) });
    const { driver, clock } = setup({}, model);
    void driver.write(bytesOf(CHUNK));
    void driver.write(bytesOf(CHUNK));
    void driver.end();
    for (let i = 0; i < 5 && clock.runNext(); i++) await flushMicrotasks();
    await flushMicrotasks();
    expect(driver.machine.state).toBe("failed");
  });

  it("resumes a restored machine: status query first, writes from resumeOffset", async () => {
    const model = new GcsModel();
    const source = bytesOf(4 * CHUNK + 3);
    const first = setup({}, model);
    await runUntilSettled(first.clock, first.driver.write(source.subarray(0, 2 * CHUNK)));
    await runUntilSettled(first.clock, first.driver.write(source.subarray(2 * CHUNK, 3 * CHUNK)));
    first.driver.abort("crash");
    const checkpoint = JSON.parse(JSON.stringify(first.driver.checkpoint())) as unknown;
    const clock = new FakeClock();
    const machine = UploadMachine.restore(checkpoint, options());
    const driver = new UploadDriver({ machine, transport: model, clock });
    const object = await uploadAll(driver, clock, source.subarray(machine.resumeOffset));
    expect(object).toMatchObject({ size: String(source.length), crc32c: crcB64(source) });
    expect(Buffer.from(model.object("bkt", "obj")!.content!)).toEqual(Buffer.from(source));
    expect(model.violations).toEqual([]);
  });

  it("finishes the upload through random faults (driver + fake clock + model)", async () => {
    const fault = fc.oneof(
      fc.constant<ModelFault>({ kind: "lose-response" }),
      fc.constant<ModelFault>({ kind: "truncate" }),
      fc.nat({ max: 3 * CHUNK }).map<ModelFault>((afterBytes) => ({ kind: "reset", afterBytes })),
      fc.nat({ max: 3 * CHUNK }).map<ModelFault>((afterBytes) => ({ kind: "stall", afterBytes })),
      fc.constantFrom(408, 429, 500, 502, 503, 504).map<ModelFault>((status) => ({ kind: "status", status })),
      fc.nat({ max: 2 * CHUNK }).map<ModelFault>((keepBytes) => ({ kind: "short-ack", keepBytes })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(fault, { freq: 2 }), { maxLength: 20 }), fc.integer({ min: 0, max: 3 * CHUNK }), fc.integer({ min: 4096, max: 300_000 }), async (faults, size, piece) => {
        const model = new GcsModel({ faults });
        const { driver, clock } = setup({ chunkSize: 2 * CHUNK, retry: { maxAttempts: 50, deadlineMs: 1e9 } }, model);
        const source = bytesOf(size, size);
        await uploadAll(driver, clock, source, piece);
        expect(Buffer.from(model.object("bkt", "obj")!.content!)).toEqual(Buffer.from(source));
        expect(model.violations).toEqual([]);
        expect(clock.pendingTimers).toBe(0);
      }),
      { numRuns: process.env.CI ? 50 : 25 },
    );
  }, 120_000);
});

describe("transport contract v2 in the driver", () => {
  it("without upload progress: one deadline of idleTimeoutMs + bodyLength / MIN_UPLOAD_THROUGHPUT, no progress callback", async () => {
    const transport = new ManualTransport(false);
    const { driver, clock } = setup({ retry: { idleTimeoutMs: 5000 } }, transport);
    await flushMicrotasks();
    // The start has no body: the plain idle timeout.
    expect(transport.last.options.onUploadProgress).toBeUndefined();
    transport.last.resolve(rStart());
    await flushMicrotasks();
    void driver.write(new Uint8Array(CHUNK + 1));
    const chunk = transport.last;
    expect(chunk.request.bodyLength).toBe(CHUNK);
    expect(chunk.options.onUploadProgress).toBeUndefined();
    const deadline = 5000 + (CHUNK * 1000) / MIN_UPLOAD_THROUGHPUT; // 256 KiB at 64 KiB/s: 4 s more
    expect(deadline).toBe(9000);
    clock.advance(deadline - 1);
    expect(chunk.options.signal.aborted).toBe(false);
    clock.advance(1);
    expect(chunk.options.signal.aborted).toBe(true);
    await flushMicrotasks();
    expect(clock.pendingTimers).toBe(1); // backoff, then the status query
  });

  it("with upload progress: the stall window is idleTimeoutMs, and keeps running after the body until the response", async () => {
    const transport = new ManualTransport(true);
    const { driver, clock } = setup({ retry: { idleTimeoutMs: 5000 } }, transport);
    await flushMicrotasks();
    transport.last.resolve(rStart());
    await flushMicrotasks();
    void driver.write(new Uint8Array(CHUNK + 1));
    const chunk = transport.last;
    chunk.options.onUploadProgress?.(CHUNK); // the whole body left; the answer trickles
    clock.advance(4999);
    expect(chunk.options.signal.aborted).toBe(false);
    clock.advance(1);
    expect(chunk.options.signal.aborted).toBe(true);
  });

  it("hands the transport credentials from credentialsFor, maxResponseBytes, and the signal", async () => {
    const transport = new ManualTransport();
    const clock = new FakeClock();
    const asked: string[] = [];
    const driver = new UploadDriver({
      machine: new UploadMachine(options()),
      transport,
      clock,
      credentialsFor: (request, purpose) => {
        asked.push(`${request.method} ${purpose}`);
        return purpose === "start";
      },
    });
    await flushMicrotasks();
    expect(transport.last.options).toMatchObject({ credentials: true, maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES });
    transport.last.resolve(rStart());
    await flushMicrotasks();
    void driver.write(new Uint8Array(CHUNK + 1));
    expect(transport.last.options.credentials).toBe(false);
    expect(transport.last.options.refreshCredentials).toBeUndefined();
    expect(asked).toEqual(["POST start", "PUT chunk"]);
    void driver.cancel();
  });

  it("sends credentials nowhere by default and passes a custom maxResponseBytes", async () => {
    const transport = new ManualTransport();
    const driver = new UploadDriver({ machine: new UploadMachine(options()), transport, clock: new FakeClock(), maxResponseBytes: 4096 });
    await flushMicrotasks();
    expect(transport.last.options).toMatchObject({ credentials: false, maxResponseBytes: 4096 });
    void driver.cancel();
  });

  it("classifies rejections by instanceof TransportError: a look-alike with a kind is a network failure", async () => {
    const kinds: string[] = [];
    for (const rejection of [new TransportError("truncated", "cut short"), Object.assign(new Error("duck"), { kind: "truncated" })]) {
      const transport = new ManualTransport();
      const { driver, events } = setup({}, transport);
      await flushMicrotasks();
      transport.last.resolve(rStart());
      await flushMicrotasks();
      void driver.write(new Uint8Array(CHUNK + 1));
      transport.last.reject(rejection);
      await flushMicrotasks();
      const retry = events.find((e): e is Extract<UploadEvent, { type: "retry" }> => e.type === "retry");
      kinds.push(retry!.error.message.includes("cut short") ? "truncated" : retry!.error.message.includes("connection failed") ? "network" : retry!.error.message);
      void driver.cancel();
    }
    expect(kinds).toEqual(["truncated", "network"]);
  });
});

describe("responses through the driver", () => {
  it("passes a 200 object through", async () => {
    const transport = new ManualTransport();
    const { driver } = setup({}, transport);
    await flushMicrotasks();
    transport.last.resolve(rStart());
    const content = bytesOf(10);
    await driver.write(content);
    const ended = driver.end();
    await flushMicrotasks();
    transport.last.resolve(rObject(content));
    await expect(ended).resolves.toMatchObject({ size: "10" });
  });

  it("a malformed response from the transport aborts the upload", async () => {
    const transport = new ManualTransport();
    const { driver } = setup({}, transport);
    await flushMicrotasks();
    transport.last.resolve({ status: "200" } as unknown as TransportResponse);
    const error = (await driver.done.catch((e: unknown) => e)) as UploadError;
    expect(error.code).toBe("aborted");
    expect(error.cause).toBeInstanceOf(ValidationError);
    void rStatus;
  });
});

describe("a broken clock", () => {
  it("fails the upload instead of hanging or leaving an unhandled rejection", async () => {
    let calls = 0;
    const clock = {
      now: () => {
        if (++calls > 2) throw new Error("clock broke");
        return 0;
      },
      setTimer: () => () => undefined,
    };
    const driver = new UploadDriver({ machine: new UploadMachine(options()), transport: new GcsModel(), clock });
    const error = (await driver.done.catch((e: unknown) => e)) as UploadError;
    expect(error.code).toBe("aborted");
    expect((error.cause as Error).message).toBe("clock broke");
  });
});
