import { Readable } from "node:stream";
import { UploadError, ValidationError } from "@resumable-gcs/core";
import { describe, expect, it } from "vitest";
import { describeChunk, openSource } from "./source.js";
import { io } from "./test-support/data.js";

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

async function readAll(source: unknown): Promise<number[]> {
  const reader = openSource(source);
  const out: number[] = [];
  for (let chunk = await reader.next(); chunk !== undefined; chunk = await reader.next()) out.push(...chunk);
  return out;
}

function refusal(action: () => unknown): ValidationError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error("expected a ValidationError");
}

async function chunkRefusal(source: unknown): Promise<ValidationError> {
  const reader = openSource(source);
  const error = await (async () => {
    for (;;) if ((await reader.next()) === undefined) return undefined;
  })().catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

describe("openSource: what it reads", () => {
  it("reads an async generator chunk by chunk", async () => {
    async function* source(): AsyncGenerator<Uint8Array> {
      yield await io(bytes(1, 2));
      yield bytes(3);
    }
    expect(await readAll(source())).toEqual([1, 2, 3]);
  });

  it("reads a sync iterable (an array of chunks, a generator)", async () => {
    expect(await readAll([bytes(1), bytes(2, 3)])).toEqual([1, 2, 3]);
    function* source(): Generator<Uint8Array> {
      yield bytes(9);
    }
    expect(await readAll(source())).toEqual([9]);
  });

  it("reads a Web ReadableStream through its reader, and a Node Readable (Buffers are Uint8Arrays)", async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes(4, 5));
        controller.enqueue(bytes(6));
        controller.close();
      },
    });
    expect(await readAll(stream)).toEqual([4, 5, 6]);
    expect(await readAll(Readable.from([Buffer.from([7]), Buffer.from([8, 9])]))).toEqual([7, 8, 9]);
  });

  it("reads a ReadableStream that has no Symbol.asyncIterator (older Safari, some polyfills)", async () => {
    const chunks = [bytes(1), bytes(2)];
    const reader = openSource({
      getReader: () => ({
        read: () => Promise.resolve(chunks.length > 0 ? { done: false, value: chunks.shift() } : { done: true }),
        cancel: () => Promise.resolve(),
        releaseLock: () => undefined,
      }),
    });
    expect([...((await reader.next()) ?? [])]).toEqual([1]);
    expect([...((await reader.next()) ?? [])]).toEqual([2]);
    expect(await reader.next()).toBeUndefined();
  });

  it("skips empty chunks and counts pulls and bytes", async () => {
    const reader = openSource([bytes(), bytes(1), new Uint8Array(0), bytes(2, 3)]);
    expect([...((await reader.next()) ?? [])]).toEqual([1]);
    expect(reader.pulls).toBe(2);
    expect([...((await reader.next()) ?? [])]).toEqual([2, 3]);
    expect(reader.pulls).toBe(4);
    expect(reader.bytesRead).toBe(3);
    expect(await reader.next()).toBeUndefined();
    expect(await reader.next()).toBeUndefined();
    expect(reader.pulls).toBe(5);
  });

  it("reads nothing until asked", () => {
    let pulls = 0;
    const source = {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          pulls += 1;
          return Promise.resolve({ done: true, value: undefined });
        },
      }),
    };
    const reader = openSource(source);
    expect(pulls).toBe(0);
    expect(reader.pulls).toBe(0);
  });

  it("passes a source's own error through unchanged (sync and async)", async () => {
    const boom = new Error("disk on fire");
    // eslint-disable-next-line require-yield -- a source that throws before its first chunk
    function* sync(): Generator<Uint8Array> {
      throw boom;
    }
    await expect(openSource(sync()).next()).rejects.toBe(boom);
    // eslint-disable-next-line require-yield -- as above, async
    async function* asyncSource(): AsyncGenerator<Uint8Array> {
      await io(undefined);
      throw boom;
    }
    await expect(openSource(asyncSource()).next()).rejects.toBe(boom);
  });
});

describe("openSource: what it refuses", () => {
  it("refuses a string source, naming it, with the fix", () => {
    const error = refusal(() => openSource("hello"));
    expect(error.field).toBe("source");
    expect(error.code).toBe("invalid-argument");
    expect(error.message).toContain("came a string (5 characters)");
    expect(error.message).toContain("TextEncoder");
  });

  it("refuses a single buffer as the source (iterable, but of numbers)", () => {
    expect(refusal(() => openSource(bytes(1, 2))).message).toContain("came a Uint8Array itself; pass [bytes] to upload one buffer");
    expect(refusal(() => openSource(new ArrayBuffer(4))).message).toContain("came an ArrayBuffer itself");
  });

  it("refuses things that are not iterable", () => {
    expect(refusal(() => openSource(42)).message).toContain("came a number (42)");
    expect(refusal(() => openSource(null)).message).toContain("came null");
    expect(refusal(() => openSource({ size: 3 })).message).toContain("came an object");
    expect(refusal(() => openSource(undefined)).message).toContain("came undefined");
  });

  it("refuses a string chunk (a Readable with an encoding set) naming it and where it came", async () => {
    const error = await chunkRefusal(Readable.from(["ab", "cd"], { objectMode: true }));
    expect(error.field).toBe("source");
    expect(error.message).toContain("chunk #1 (at byte 0) is a string (2 characters); expected a Uint8Array");
  });

  it("refuses other ArrayBufferViews, ArrayBuffers and non-bytes, at the right chunk index and offset", async () => {
    expect((await chunkRefusal([bytes(1, 2), new Int16Array([1])])).message).toContain("chunk #2 (at byte 2) is an Int16Array; expected a Uint8Array; wrap its bytes");
    expect((await chunkRefusal([new DataView(new ArrayBuffer(2))])).message).toContain("is a DataView");
    expect((await chunkRefusal([new ArrayBuffer(2)])).message).toContain("is an ArrayBuffer; expected a Uint8Array; wrap it: new Uint8Array(buffer)");
    expect((await chunkRefusal([7])).message).toContain("is a number (7)");
    expect((await chunkRefusal([null])).message).toContain("is null");
    expect((await chunkRefusal([[1, 2]])).message).toContain("is an array");
    expect((await chunkRefusal([{ data: 1 }])).message).toContain("is an object");
  });

  it("accepts Uint8Array subclasses (Buffer) and views onto part of a buffer", async () => {
    const backing = new Uint8Array([0, 1, 2, 3]);
    expect(await readAll([Buffer.from([5]), backing.subarray(1, 3)])).toEqual([5, 1, 2]);
  });
});

describe("openSource: closing", () => {
  it("close() calls return() on an async generator: its finally runs before close resolves", async () => {
    const events: string[] = [];
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        yield await io(bytes(1));
        yield bytes(2);
      } finally {
        events.push("finally");
      }
    }
    const reader = openSource(source());
    await reader.next();
    await reader.close();
    expect(events).toEqual(["finally"]);
    expect(await reader.next()).toBeUndefined();
  });

  it("close() on a sync generator runs its finally; close() is idempotent", async () => {
    let finallyRuns = 0;
    function* source(): Generator<Uint8Array> {
      try {
        yield bytes(1);
        yield bytes(2);
      } finally {
        finallyRuns += 1;
      }
    }
    const reader = openSource(source());
    await reader.next();
    await reader.close();
    await reader.close();
    expect(finallyRuns).toBe(1);
  });

  it("close() cancels a ReadableStream with the reason, even while a read is pending", async () => {
    let cancelled: unknown;
    const stream = new ReadableStream<Uint8Array>({
      pull: () => new Promise(() => undefined), // never produces: a stuck producer
      cancel: (reason) => {
        cancelled = reason;
      },
    });
    const reader = openSource(stream);
    const pending = reader.next();
    expect(reader.pulling).toBe(true);
    const reason = new UploadError("aborted", "stop");
    await reader.close(reason);
    expect(cancelled).toBe(reason);
    expect(await pending).toBeUndefined();
  });

  it("release() does not wait for a stuck pull of an async generator; the generator is closed once the pull ends", async () => {
    let unblock!: () => void;
    let finallyRan = false;
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        await new Promise<void>((resolve) => (unblock = resolve));
        yield bytes(1);
        yield bytes(2);
      } finally {
        finallyRan = true;
      }
    }
    const reader = openSource(source());
    const pending = reader.next();
    await reader.release(new Error("stop"));
    expect(finallyRan).toBe(false);
    unblock();
    await pending;
    await reader.close();
    expect(finallyRan).toBe(true);
  });

  it("release() with no pull pending is close(): it waits for the generator's finally", async () => {
    let finallyRan = false;
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        yield await io(bytes(1));
      } finally {
        finallyRan = true;
      }
    }
    const reader = openSource(source());
    await reader.next();
    await reader.release();
    expect(finallyRan).toBe(true);
  });

  it("close() destroys a Node Readable", async () => {
    const readable = Readable.from([Buffer.from([1]), Buffer.from([2])]);
    const reader = openSource(readable);
    await reader.next();
    await reader.close();
    expect(readable.destroyed).toBe(true);
  });

  it("close() after the source ended does not touch it; a failing return() is swallowed", async () => {
    let returns = 0;
    const source = {
      [Symbol.asyncIterator]: () => ({
        next: () => Promise.resolve({ done: true, value: undefined }),
        return: () => {
          returns += 1;
          return Promise.reject(new Error("return failed"));
        },
      }),
    };
    const ended = openSource(source);
    await ended.next();
    await ended.close();
    expect(returns).toBe(0);
    const early = openSource(source);
    await expect(early.close()).resolves.toBeUndefined();
    expect(returns).toBe(1);
  });
});

describe("describeChunk", () => {
  it("names values for messages", () => {
    expect(describeChunk(true)).toBe("a boolean (true)");
    expect(describeChunk(Symbol.iterator)).toContain("a symbol");
    expect(describeChunk(new Float64Array(1))).toBe("a Float64Array");
    expect(describeChunk(Object.create(null))).toBe("an object");
  });
});
