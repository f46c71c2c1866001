import { Readable } from "node:stream";
import { UploadError, ValidationError } from "@resumable-gcs/core";
import { describe, expect, it } from "vitest";
import { pump, sourceFailure } from "./pump.js";
import { openSource } from "./source.js";
import { io } from "./test-support/data.js";
import { FakeSink } from "./test-support/fake-sink.js";

/** Lets every pending promise callback run. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** An async source of `count` chunks of `size` bytes that records every pull and its finally. */
function countingSource(count: number, size: number) {
  const log = { pulls: 0, finallyRan: false };
  async function* generate(): AsyncGenerator<Uint8Array> {
    try {
      for (let index = 0; index < count; index++) {
        log.pulls += 1;
        yield await io(new Uint8Array(size).fill(index & 0xff));
      }
    } finally {
      log.finallyRan = true;
    }
  }
  return { log, source: generate() };
}

describe("pump: pulling only when the upload wants data", () => {
  it("without read-ahead, never holds more than one pulled chunk the upload has not accepted", async () => {
    const { log, source } = countingSource(10, 100);
    const sink = new FakeSink({ capacity: 250 });
    const running = pump(openSource(source), sink, { readAhead: 0 });
    for (let round = 0; round < 20 && !sink.ended; round++) {
      await settle();
      // Accepted = written and not waiting; at most one pulled chunk beyond what was accepted.
      const accepted = sink.written.length - sink.waiting;
      expect(log.pulls).toBeLessThanOrEqual(accepted + 1);
      expect(sink.waiting).toBeLessThanOrEqual(1);
      sink.drain();
    }
    const object = await running;
    expect(object.size).toBe("1000");
    expect(sink.bytes()).toEqual(Uint8Array.from({ length: 1000 }, (_, at) => Math.floor(at / 100)));
  });

  it("stops pulling while a write waits: a stalled upload leaves the source alone", async () => {
    const { log, source } = countingSource(100, 10);
    const sink = new FakeSink({ capacity: 0 });
    const running = pump(openSource(source), sink, { readAhead: 0 });
    for (let round = 0; round < 5; round++) await settle();
    expect(sink.written.length).toBe(1);
    expect(log.pulls).toBe(1);
    sink.drain();
    for (let round = 0; round < 5; round++) await settle();
    expect(sink.written.length).toBe(2);
    expect(log.pulls).toBe(2);
    sink.autoDrain = true;
    sink.drain();
    await running;
    expect(sink.bytes().length).toBe(1000);
  });

  it("with readAhead, pulls up to that many bytes beyond what was accepted, and no further", async () => {
    const { log, source } = countingSource(100, 10);
    const sink = new FakeSink({ capacity: 0 });
    const running = pump(openSource(source), sink, { readAhead: 35 });
    for (let round = 0; round < 10; round++) await settle();
    // One chunk in the waiting write, then pulls while queued + writing < 35: 10, 20, 30, 40 bytes.
    expect(sink.written.length).toBe(1);
    expect(log.pulls).toBe(4);
    sink.autoDrain = true;
    sink.drain();
    await running;
    expect(sink.bytes().length).toBe(1000);
  });

  it("ends the upload once the source ends and returns its object; an empty source is a 0-byte object", async () => {
    const sink = new FakeSink({ autoDrain: true });
    expect(await pump(openSource([]), sink, { readAhead: 0 })).toMatchObject({ size: "0" });
    expect(sink.ended).toBe(true);
    expect(sink.written).toEqual([]);
  });

  it("hands `first` over before reading anything", async () => {
    const sink = new FakeSink({ autoDrain: true });
    await pump(openSource([Uint8Array.of(2)]), sink, { readAhead: 0, first: Uint8Array.of(1) });
    expect([...sink.bytes()]).toEqual([1, 2]);
  });
});

describe("pump: when something goes wrong", () => {
  it("a source that throws aborts the upload, rejects with the source error as cause, code cancelled", async () => {
    const boom = new Error("disk on fire");
    async function* source(): AsyncGenerator<Uint8Array> {
      yield await io(Uint8Array.of(1, 2, 3));
      throw boom;
    }
    const sink = new FakeSink({ autoDrain: true });
    const error = (await pump(openSource(source()), sink, { readAhead: 0 }).catch((caught: unknown) => caught)) as UploadError;
    expect(error).toBeInstanceOf(UploadError);
    expect(error.code).toBe("cancelled");
    expect(error.cause).toBe(boom);
    expect(error.message).toBe("the source failed after 3 bytes (Error: disk on fire); the session was cancelled");
    expect(sink.aborts).toEqual([boom]);
    expect(sink.ended).toBe(false);
  });

  it("with onAbort keep, a throwing source rejects with code aborted (resumable), cause kept", async () => {
    const boom = new TypeError("socket closed");
    function* source(): Generator<Uint8Array> {
      yield Uint8Array.of(1);
      throw boom;
    }
    const sink = new FakeSink({ autoDrain: true, onAbort: "keep" });
    const error = (await pump(openSource(source()), sink, { readAhead: 0 }).catch((caught: unknown) => caught)) as UploadError;
    expect(error.code).toBe("aborted");
    expect(error.retryable).toBe(true);
    expect(error.cause).toBe(boom);
    expect(error.message).toContain("the session was kept: resume from the checkpoint");
  });

  it("a non-byte chunk aborts the upload with the ValidationError, and the generator's finally runs first", async () => {
    const log = { finallyRan: false };
    async function* source(): AsyncGenerator<unknown> {
      try {
        yield await io(Uint8Array.of(1));
        yield "two";
        yield Uint8Array.of(3);
      } finally {
        log.finallyRan = true;
      }
    }
    const sink = new FakeSink({ autoDrain: true });
    const error = (await pump(openSource(source()), sink, { readAhead: 0 }).catch((caught: unknown) => caught)) as ValidationError;
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toContain("chunk #2 (at byte 1) is a string");
    expect(sink.aborts).toEqual([error]);
    expect(log.finallyRan).toBe(true);
    expect([...sink.bytes()]).toEqual([1]);
  });

  it("an upload that fails calls return() on the source: the generator's finally has run when the pump rejects", async () => {
    const { log, source } = countingSource(100, 10);
    const sink = new FakeSink({ capacity: 0 });
    const running = pump(openSource(source), sink, { readAhead: 0 });
    await settle();
    const failure = new UploadError("session-expired", "the session is gone");
    sink.fail(failure);
    await expect(running).rejects.toBe(failure);
    expect(log.finallyRan).toBe(true);
    expect(log.pulls).toBe(1);
  });

  it("an upload that ends while a pull is stuck settles at once, and the source is closed when that pull returns", async () => {
    let release!: () => void;
    const log = { finallyRan: false, pulls: 0 };
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        log.pulls += 1;
        yield Uint8Array.of(1);
        log.pulls += 1;
        await new Promise<void>((resolve) => (release = resolve)); // a producer that hangs
        yield Uint8Array.of(2);
      } finally {
        log.finallyRan = true;
      }
    }
    const sink = new FakeSink({ autoDrain: true });
    const running = pump(openSource(source()), sink, { readAhead: 0 });
    for (let round = 0; round < 5; round++) await settle();
    expect(log.pulls).toBe(2);
    const aborted = new UploadError("aborted", "the signal fired");
    sink.fail(aborted);
    await expect(running).rejects.toBe(aborted);
    expect(log.finallyRan).toBe(false);
    release();
    await settle();
    expect(log.finallyRan).toBe(true);
  });

  it("a stuck ReadableStream is cancelled at once when the upload fails", async () => {
    let cancelled: unknown;
    let sent = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(Uint8Array.of(1));
        }
        return new Promise(() => undefined);
      },
      cancel(reason) {
        cancelled = reason;
      },
    });
    const sink = new FakeSink({ autoDrain: true });
    const running = pump(openSource(stream), sink, { readAhead: 0 });
    for (let round = 0; round < 5; round++) await settle();
    const failure = new UploadError("retries-exhausted", "gave up");
    sink.fail(failure);
    await expect(running).rejects.toBe(failure);
    await settle();
    expect(cancelled).toBe(failure);
  });

  it("a Node Readable is destroyed when the upload fails", async () => {
    const readable = Readable.from(
      (function* () {
        for (let index = 0; index < 100; index++) yield Buffer.alloc(10);
      })(),
    );
    const sink = new FakeSink({ capacity: 0 });
    const running = pump(openSource(readable), sink, { readAhead: 0 });
    await settle();
    sink.fail(new UploadError("unauthorized", "401"));
    await expect(running).rejects.toMatchObject({ code: "unauthorized" });
    expect(readable.destroyed).toBe(true);
  });

  it("a refused write (more bytes than declared) stops the upload with that error", async () => {
    const refused = new UploadError("usage", "expected at most 2 bytes in all (the declared totalSize), came 3");
    const sink = new FakeSink({ autoDrain: true });
    const write = sink.write.bind(sink);
    sink.write = (bytes) => (sink.written.length === 1 ? Promise.reject(refused) : write(bytes));
    const { log, source } = countingSource(5, 2);
    await expect(pump(openSource(source), sink, { readAhead: 0 })).rejects.toBe(refused);
    expect(sink.aborts).toEqual([refused]);
    expect(log.finallyRan).toBe(true);
  });

  it("a write that throws instead of rejecting is handled the same way", async () => {
    const thrown = new UploadError("usage", "write after end");
    const sink = new FakeSink({ autoDrain: true });
    sink.write = () => {
      throw thrown;
    };
    const { log, source } = countingSource(3, 2);
    await expect(pump(openSource(source), sink, { readAhead: 0 })).rejects.toBe(thrown);
    expect(sink.aborts).toEqual([thrown]);
    expect(log.finallyRan).toBe(true);
  });

  it("a refused end (fewer bytes than declared) stops the upload with that error", async () => {
    const refused = new UploadError("usage", "declared 10 bytes, wrote 2");
    const sink = new FakeSink({ autoDrain: true });
    sink.end = () => Promise.reject(refused);
    await expect(pump(openSource([Uint8Array.of(1, 2)]), sink, { readAhead: 0 })).rejects.toBe(refused);
    expect(sink.aborts).toEqual([refused]);
  });

  it("an abort that finds the object committed resolves with the object", async () => {
    const object = { bucket: "b", name: "o", size: "1" };
    const sink = new FakeSink({ autoDrain: true });
    sink.abort = () => Promise.resolve({ outcome: "committed", object: object as never });
    // eslint-disable-next-line require-yield -- fails at once
    async function* source(): AsyncGenerator<Uint8Array> {
      await io(undefined);
      throw new Error("late failure");
    }
    await expect(pump(openSource(source()), sink, { readAhead: 0 })).resolves.toBe(object);
  });
});

describe("pump: with a signal", () => {
  it("once the signal fires, a refused write is not the answer: the upload's own end is", async () => {
    const controller = new AbortController();
    const sink = new FakeSink({ capacity: 0 });
    const cancelled = new UploadError("cancelled", "the upload was cancelled and its session deleted");
    const { log, source } = countingSource(100, 10);
    const running = pump(openSource(source), sink, { readAhead: 0, signal: controller.signal });
    await settle();
    // The layer is cancelling (DELETE in flight): writes are refused with a usage error meanwhile.
    controller.abort();
    sink.write = () => Promise.reject(new UploadError("usage", "write() after cancel()"));
    sink.drain();
    await settle();
    expect(sink.aborts).toEqual([]);
    sink.fail(cancelled);
    await expect(running).rejects.toBe(cancelled);
    expect(log.finallyRan).toBe(true);
  });

  it("stops pulling once the signal fires", async () => {
    const controller = new AbortController();
    const sink = new FakeSink({ autoDrain: true });
    const { log, source } = countingSource(1000, 10);
    const running = pump(openSource(source), sink, { readAhead: 0, signal: controller.signal });
    for (let round = 0; round < 3; round++) await settle();
    controller.abort();
    const pulls = log.pulls;
    for (let round = 0; round < 5; round++) await settle();
    expect(log.pulls).toBeLessThanOrEqual(pulls + 1);
    sink.fail(new UploadError("cancelled", "cancelled"));
    await expect(running).rejects.toMatchObject({ code: "cancelled" });
  });
});

describe("sourceFailure", () => {
  it("says when no session had been started, and describes non-Error reasons", () => {
    const error = sourceFailure("plain reason", 0, "none");
    expect(error.code).toBe("cancelled");
    expect(error.message).toBe("the source failed after 0 bytes (plain reason); no session had been started");
  });
});
