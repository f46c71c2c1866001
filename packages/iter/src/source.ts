/**
 * The source side: one pull-based reader over every kind of byte source `upload()` takes.
 *
 * Rules:
 * - Nothing is read until `next()` is called, and each call reads exactly one chunk: the caller (the
 *   pump) decides when the engine wants data, so this module never buffers or reads ahead.
 * - Every chunk must be a `Uint8Array` (a Node `Buffer` is one). Strings, numbers, `ArrayBuffer`s and
 *   other `ArrayBufferView`s are refused with a {@link ValidationError} naming what came: a string
 *   has no byte form without an encoding the caller did not choose, and a multi-byte typed array
 *   (`Int16Array`, `Float64Array`...) is laid out in the host's byte order, so the stored object would
 *   depend on the machine that uploaded it. `DataView` and `ArrayBuffer` are refused for the same
 *   rule (one accepted type), with the one-line fix in the message.
 * - Empty chunks are skipped: they carry nothing, and the engine need not see them.
 * - `close()` ends the source early: `return()` on an iterator (a generator runs its `finally`, a
 *   Node `Readable` is destroyed), `cancel()` on a `ReadableStream` reader. It never throws.
 */
import { ValidationError } from "@resumable-gcs/core";

/**
 * The part of a Web `ReadableStream` this package uses: its reader. Streams that are also async
 * iterable (Node 22+, Deno, Bun, Workers) are still read through the reader, because `cancel()` on
 * a reader settles a pending read at once, where an iterator's `return()` waits for it.
 */
export interface ReadableStreamLike {
  /** Locks the stream and returns a reader. */
  getReader(): {
    read(): Promise<{ readonly done?: boolean; readonly value?: unknown }>;
    cancel(reason?: unknown): Promise<void>;
    releaseLock(): void;
  };
}

/**
 * Everything `upload()` reads bytes from: an async iterable (async generator, Node `Readable`,
 * anything `for await` takes), a Web `ReadableStream`, or a plain (sync) iterable such as an array
 * of chunks or a generator function's result. Every chunk must be a `Uint8Array`.
 */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | ReadableStreamLike;

/** A pull-based reader over a {@link ByteSource} (see {@link openSource}). */
export interface ChunkReader {
  /** Reads the next non-empty chunk; resolves `undefined` at the end. Rejects with the source's own error, or a ValidationError for a chunk that is not bytes. */
  next(): Promise<Uint8Array | undefined>;
  /** Ends the source early (`return()`/`cancel()`); resolves when the source has acknowledged it. Never rejects; idempotent. */
  close(reason?: unknown): Promise<void>;
  /**
   * Closes the source like {@link ChunkReader.close}, but does not wait while a pull is pending: an
   * iterator's `return()` waits for that pull, which may never end (a stuck producer). The close
   * still happens, once the pull settles.
   */
  release(reason?: unknown): Promise<void>;
  /** Whether a `next()` is still pending (a `close()` then waits for it, for iterators). */
  readonly pulling: boolean;
  /** How many times the underlying source was asked for a chunk. */
  readonly pulls: number;
  /** The bytes read so far (non-empty chunks handed out). */
  readonly bytesRead: number;
}

const field = "source";

/** An English name for what came, for messages ("a string", "an Int16Array", "null"). */
export function describeChunk(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "string") return `a string (${value.length} characters)`;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return `a ${typeof value} (${String(value)})`;
  if (typeof value === "symbol") return `a symbol (${value.toString()})`;
  if (typeof value !== "object" && typeof value !== "function") return `a ${typeof value}`;
  if (Array.isArray(value)) return "an array";
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  // "an Int16Array", "an ArrayBuffer", but "a Uint8Array" (said "you-int").
  if (typeof name === "string" && name !== "" && name !== "Object") return /^[AEIO]/.test(name) ? `an ${name}` : `a ${name}`;
  return "an object";
}

/** The fix to suggest for a chunk that is bytes in another wrapper. */
function hintFor(value: unknown): string {
  if (typeof value === "string") return "; encode it yourself (new TextEncoder().encode(text)) so the bytes stored are the ones you chose";
  if (value instanceof ArrayBuffer) return "; wrap it: new Uint8Array(buffer)";
  if (ArrayBuffer.isView(value)) return "; wrap its bytes: new Uint8Array(view.buffer, view.byteOffset, view.byteLength)";
  return "";
}

/** The error for a chunk that is not a Uint8Array. */
function badChunk(value: unknown, index: number, offset: number): ValidationError {
  return new ValidationError(field, `chunk #${index} (at byte ${offset}) is ${describeChunk(value)}; expected a Uint8Array${hintFor(value)}`);
}

function isObjectLike(value: unknown): value is object {
  return (typeof value === "object" && value !== null) || typeof value === "function";
}

type Pull = () => Promise<{ readonly done?: boolean; readonly value?: unknown }>;

/**
 * Checks that `source` is a byte source and opens it for pulling. Reads nothing.
 *
 * @throws ValidationError (field `source`) for a string, a single byte buffer (iterable, but of
 *   numbers), or anything that is neither iterable nor a ReadableStream.
 */
export function openSource(source: unknown): ChunkReader {
  if (typeof source === "string") {
    throw new ValidationError(field, `expected an iterable of Uint8Array chunks, came ${describeChunk(source)}; encode it yourself and pass [new TextEncoder().encode(text)]`);
  }
  if (ArrayBuffer.isView(source) || source instanceof ArrayBuffer) {
    // A Uint8Array is iterable, but of numbers: iterating it would fail on its first byte with a confusing message.
    throw new ValidationError(field, `expected an iterable of Uint8Array chunks, came ${describeChunk(source)} itself; pass [bytes] to upload one buffer`);
  }
  if (!isObjectLike(source)) throw new ValidationError(field, `expected an iterable of Uint8Array chunks, came ${describeChunk(source)}`);

  let pull: Pull;
  let finish: (reason: unknown) => Promise<void>;
  const candidate = source as Partial<ReadableStreamLike> & { [Symbol.asyncIterator]?: unknown; [Symbol.iterator]?: unknown };
  if (typeof candidate.getReader === "function") {
    const reader = (source as ReadableStreamLike).getReader();
    pull = () => reader.read();
    finish = async (reason) => {
      await reader.cancel(reason);
    };
  } else if (typeof candidate[Symbol.asyncIterator] === "function") {
    const iterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    pull = () => iterator.next();
    finish = async () => {
      await iterator.return?.();
    };
  } else if (typeof candidate[Symbol.iterator] === "function") {
    const iterator = (source as Iterable<unknown>)[Symbol.iterator]();
    // A sync iterator that throws is the same as an async source that rejects.
    pull = () => {
      try {
        return Promise.resolve(iterator.next());
      } catch (error) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the source's own error, passed through untouched
        return Promise.reject(error);
      }
    };
    finish = () => {
      iterator.return?.();
      return Promise.resolve();
    };
  } else {
    throw new ValidationError(field, `expected an AsyncIterable, an Iterable or a ReadableStream of Uint8Array chunks, came ${describeChunk(source)}`);
  }

  let pulls = 0;
  let chunks = 0;
  let bytesRead = 0;
  let pending: Promise<unknown> | undefined;
  let ended = false;
  let closing: Promise<void> | undefined;

  const next = async (): Promise<Uint8Array | undefined> => {
    for (;;) {
      if (ended || closing !== undefined) return undefined;
      pulls += 1;
      const read = pull();
      pending = read;
      let result: { readonly done?: boolean; readonly value?: unknown };
      try {
        result = await read;
      } finally {
        pending = undefined;
      }
      if (result.done) {
        ended = true;
        return undefined;
      }
      const value = result.value;
      chunks += 1;
      if (!(value instanceof Uint8Array)) throw badChunk(value, chunks, bytesRead);
      if (value.byteLength === 0) continue;
      bytesRead += value.byteLength;
      return value;
    }
  };

  const close = (reason?: unknown): Promise<void> => {
    if (closing === undefined) {
      const wasEnded = ended;
      ended = true;
      // A source that ran to its end has released everything already; closing it again is noise
      // (a generator ignores it, but a ReadableStream reader would cancel an already-closed stream).
      closing = wasEnded ? Promise.resolve() : finish(reason).catch(() => undefined);
    }
    return closing;
  };

  return {
    next,
    close,
    release(reason?: unknown): Promise<void> {
      const closed = close(reason);
      return pending === undefined ? closed : Promise.resolve();
    },
    get pulling() {
      return pending !== undefined;
    },
    get pulls() {
      return pulls;
    },
    get bytesRead() {
      return bytesRead;
    },
  };
}
