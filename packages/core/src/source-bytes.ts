/**
 * Where the upload's bytes stand: written by the caller, retained in memory, handed to the
 * transport, confirmed by the server, and their checksums. The machine decides WHEN things happen
 * (its phases); this decides WHICH bytes, so every offset rule has one home.
 *
 * Rules:
 *  1. Offsets are absolute stream offsets. `persisted` (the server's confirmed offset) never
 *     decreases; `highestSent` is the highest offset ever handed to the transport or known to be on
 *     the server.
 *  2. Bytes below `persisted` are released at once and fed to the checksum ledger in order, each
 *     exactly once; they are never sent again. Retained memory is exactly the unacknowledged bytes.
 *  3. Every non-final chunk is exactly `chunkSize` bytes. Only `end()` decides the total (or the
 *     declared total, which `end()` must then match). With an unknown total a full chunk is chosen
 *     only once a byte beyond it is held, so the last full chunk can still become the final one.
 *  4. After a restore the server may hold more than the source has replayed so far: those bytes are
 *     absorbed into the checksums as they arrive, never sent.
 *  5. With CRC32C on, each retained write's CRC32C is computed as it is written (the bytes are fresh
 *     in cache then, and no request waits on it) and kept beside it; when its bytes are released, the
 *     ledger combines it in instead of reading them again, so the answer to one chunk and the next
 *     chunk's request have no checksum pass between them. A write released in parts is split:
 *     the part released is read, the rest's CRC32C follows from the two.
 */
import { ByteQueue } from "./byte-queue.js";
import { ChecksumLedger, type LedgerDigests, type LedgerStart, type ObjectDigests } from "./checksum-ledger.js";
import { crc32cRemainder } from "./crc32c-combine.js";
import { UsageError } from "./errors.js";

/** The next request's range: bytes [from, to), `final` when it states the total. */
export interface ChunkChoice {
  readonly from: number;
  readonly to: number;
  readonly final: boolean;
}

/** An answer that contradicts what this upload knows about its bytes: the code to fail with, and why. */
export interface OffsetProblem {
  readonly code: "protocol-violation" | "data-lost";
  readonly message: string;
}

/** What {@link SourceBytes} is configured with. */
export interface SourceBytesOptions {
  /** Bytes per non-final chunk (a multiple of 256 KiB). */
  readonly chunkSize: number;
  /** The total size, when fixed before the data ends (options or checkpoint). */
  readonly declaredTotal: number | undefined;
  /** The checksums in use. */
  readonly digests: LedgerDigests;
}

/** A retained write's bytes still held (its tail once a prefix was released) and their CRC32C, if computed (rule 5). */
interface WriteCrc {
  length: number;
  crc32c: number | undefined;
}

/** The byte bookkeeping of one upload (see the module header). */
export class SourceBytes {
  /** The running checksums over the released bytes. */
  readonly ledger: ChecksumLedger;
  readonly #queue: ByteQueue;
  readonly #chunkSize: number;
  readonly #declaredTotal: number | undefined;
  readonly #startOffset: number;
  #persisted: number;
  #highestSent: number;
  #endedAt: number | undefined;
  /** One entry per write the queue holds, oldest first from `#writeHead` (rule 5); empty without CRC32C. */
  #writes: WriteCrc[] = [];
  #writeHead = 0;

  /**
   * @param options - chunk size, declared total, checksums.
   * @param start - where the source starts: 0, or a checkpoint's offset and CRC32C.
   */
  constructor(options: SourceBytesOptions, start: LedgerStart = { offset: 0 }) {
    this.#chunkSize = options.chunkSize;
    this.#declaredTotal = options.declaredTotal;
    this.#startOffset = start.offset;
    this.#queue = new ByteQueue(start.offset);
    this.ledger = new ChecksumLedger(options.digests, start);
    this.#persisted = start.offset;
    this.#highestSent = start.offset;
  }

  /** Where the source starts (the caller writes from here). */
  get startOffset(): number {
    return this.#startOffset;
  }

  /** Just past the last byte written. */
  get written(): number {
    return this.#queue.endOffset;
  }

  /** The oldest retained byte: everything below was released into the checksums. */
  get oldest(): number {
    return this.#queue.oldestOffset;
  }

  /** Bytes held in memory. */
  get retained(): number {
    return this.#queue.retainedBytes;
  }

  /** The server's confirmed offset (rule 1). */
  get persisted(): number {
    return this.#persisted;
  }

  /** The highest offset handed to the transport or known to be on the server (rule 1). */
  get highestSent(): number {
    return this.#highestSent;
  }

  /** The total fixed before the data ends, if any. */
  get declaredTotal(): number | undefined {
    return this.#declaredTotal;
  }

  /** The total once known: decided by `end()`, or declared. */
  get total(): number | undefined {
    return this.#endedAt ?? this.#declaredTotal;
  }

  /** True once `end()` decided the total. */
  get ended(): boolean {
    return this.#endedAt !== undefined;
  }

  /**
   * Takes the caller's bytes by reference. Bytes the server already holds (rule 4), or every byte
   * when `absorbAll` (nothing more will be sent), go straight into the checksums.
   *
   * @throws UsageError when the write would exceed the declared total.
   */
  write(bytes: Uint8Array, absorbAll: boolean): void {
    const end = this.#queue.endOffset;
    if (this.#declaredTotal !== undefined && end + bytes.length > this.#declaredTotal) {
      throw new UsageError(
        `write() of ${bytes.length} bytes after ${end}: expected at most ${this.#declaredTotal} bytes in all (the declared totalSize), came ${end + bytes.length}`,
      );
    }
    if (bytes.length === 0) return;
    if (this.ledger.crc32cActive) {
      // Rule 5, for bytes that will wait for an acknowledgement; bytes absorbed at once (rule 4,
      // or absorbAll) are read once, then.
      const waits = !absorbAll && end >= this.#persisted;
      let crc32c: number | undefined;
      if (waits) {
        const crc = this.ledger.newCrc32c()!;
        crc.update(bytes);
        crc32c = crc.value();
      }
      this.#writes.push({ length: bytes.length, crc32c });
    }
    this.#queue.push(bytes);
    this.#absorbUpTo(absorbAll ? this.#queue.endOffset : this.#persisted);
  }

  /**
   * Decides the total: the bytes written so far.
   *
   * @throws UsageError when they differ from the declared total.
   */
  end(): void {
    const end = this.#queue.endOffset;
    if (this.#declaredTotal !== undefined && end !== this.#declaredTotal) {
      throw new UsageError(`end() after ${end} bytes: expected ${this.#declaredTotal} (the declared totalSize)`);
    }
    this.#endedAt = end;
  }

  /** The next request's range (rule 3), or `undefined` when more data (or `end()`) is needed first. */
  nextChunk(): ChunkChoice | undefined {
    const from = this.#persisted;
    const end = this.#queue.endOffset;
    const size = this.#chunkSize;
    if (from > end) return undefined; // a restored session's server is ahead of the source replay
    if (this.#endedAt !== undefined) {
      const total = this.#endedAt;
      return total - from > size ? { from, to: from + size, final: false } : { from, to: total, final: true };
    }
    // Known total: the chunk that would reach it finalizes the object, and only end() may do that.
    const full = this.#declaredTotal === undefined ? end - from > size : end - from >= size && from + size < this.#declaredTotal;
    return full ? { from, to: from + size, final: false } : undefined;
  }

  /** Views (no copies) of bytes [from, to). */
  views(from: number, to: number): Uint8Array[] {
    return this.#queue.views(from, to);
  }

  /** The whole object's digests for the finalizing request carrying `body` (the retained tail). */
  finalizeDigest(body: readonly Uint8Array[]): ObjectDigests {
    return this.ledger.finalizeDigest(body);
  }

  /** Records that bytes up to `to` were handed to the transport; true when that is new ground. */
  markSent(to: number): boolean {
    if (to <= this.#highestSent) return false;
    this.#highestSent = to;
    return true;
  }

  /** The server confirmed `persisted` (above the current offset): release and absorb (rule 2). */
  acknowledge(persisted: number): void {
    this.#persisted = persisted;
    this.#absorbUpTo(persisted);
  }

  /** The object is final with `size` bytes and nothing will be sent: every byte goes to the checksums. */
  absorbAll(size: number): void {
    this.#persisted = Math.max(this.#persisted, size);
    this.#highestSent = Math.max(this.#highestSent, size);
    this.#absorbUpTo(this.#queue.endOffset);
  }

  /** The object is final and verified with `total` bytes: let the caller's buffers go. */
  finish(total: number): void {
    this.#persisted = Math.max(this.#persisted, total);
    this.#highestSent = Math.max(this.#highestSent, total);
    this.#queue.release(this.#queue.endOffset);
    this.#writes = [];
    this.#writeHead = 0;
  }

  /** The retained bytes, oldest to last written (the tail a verification adds to the ledger). */
  tail(): Uint8Array[] {
    return this.#queue.views(this.#queue.oldestOffset, this.#queue.endOffset);
  }

  /**
   * Backpressure: fewer than a chunk of unsent bytes is held (with an unknown total, up to a chunk
   * inclusive, rule 3), or every declared byte is written. `inFlight` is the chunk being sent.
   */
  wantsMore(inFlight: { readonly from: number; readonly to: number } | undefined): boolean {
    const end = this.#queue.endOffset;
    const declared = this.#declaredTotal;
    if (declared !== undefined && end >= declared) return true;
    const unsent = end - (inFlight !== undefined && inFlight.to > inFlight.from ? inFlight.to : this.#persisted);
    return declared === undefined ? unsent <= this.#chunkSize : unsent < this.#chunkSize;
  }

  /**
   * Checks a 308's offset (rules 1–2): never more than was ever sent, never less than was confirmed
   * (those bytes are gone from memory). `checkpointOffset` is set for a resumed session's first answer.
   */
  checkAcknowledged(persisted: number, checkpointOffset?: number): OffsetProblem | undefined {
    if (checkpointOffset !== undefined) {
      if (persisted < checkpointOffset) {
        return { code: "data-lost", message: `the checkpoint says ${checkpointOffset} bytes were persisted, the server now holds only ${persisted}; those bytes are gone from memory` };
      }
      const declared = this.#declaredTotal;
      return declared !== undefined && persisted > declared
        ? { code: "protocol-violation", message: `the server holds ${persisted} bytes, more than the declared total size ${declared}` }
        : undefined;
    }
    if (persisted > this.#highestSent) return { code: "protocol-violation", message: `the server reports ${persisted} bytes persisted, but only ${this.#highestSent} were ever sent` };
    if (persisted < this.#persisted) {
      return { code: "data-lost", message: `the server had confirmed ${this.#persisted} bytes, now reports ${persisted}; bytes below ${this.oldest} were released and cannot be resent` };
    }
    return undefined;
  }

  /**
   * Checks the size of a final object. `foundFinal`: the session was final before this process sent
   * its end (resumed, or cancelled before `end()`): only the size can be checked now.
   */
  checkFinalSize(size: number | undefined, foundFinal: boolean): string | undefined {
    if (foundFinal) {
      const atLeast = this.#persisted;
      const expected = this.#declaredTotal;
      const wrong = size !== undefined && ((expected !== undefined && size !== expected) || size < atLeast);
      return wrong ? `the session's object is already final with ${size} bytes, expected ${expected ?? `at least ${atLeast}`}` : undefined;
    }
    if (this.#endedAt === undefined) {
      return `the server finalized the object${size === undefined ? "" : ` at ${size} bytes`}, but end() has not been called (${this.written} bytes written so far)`;
    }
    if (size !== undefined && size !== this.#endedAt) return `expected an object of ${this.#endedAt} bytes, came one of ${size}`;
    if (this.#endedAt > this.#highestSent) return `the server finalized ${this.#endedAt} bytes, but only ${this.#highestSent} were ever sent`;
    return undefined;
  }

  /** The checkpoint's byte fields: the released offset, its CRC32C, and the total when known. */
  checkpointFields(): { resumeOffset: number; crc32c?: number; totalSize?: number } {
    const crc32c = this.ledger.crc32cValue;
    const totalSize = this.total;
    return { resumeOffset: this.oldest, ...(crc32c === undefined ? {} : { crc32c }), ...(totalSize === undefined ? {} : { totalSize }) };
  }

  /** Why the source cannot be this session's, when it ended below what the server holds (a restore against another source). */
  shortOfServer(): string | undefined {
    if (this.#endedAt === undefined || this.#persisted <= this.#queue.endOffset) return undefined;
    return `the source ended at ${this.#queue.endOffset} bytes, but the server already holds ${this.#persisted} bytes of this upload: this is not the source the session was started with`;
  }

  #absorbUpTo(offset: number): void {
    const upTo = Math.min(offset, this.#queue.endOffset);
    if (upTo <= this.#queue.oldestOffset) return;
    const released = this.#queue.release(upTo);
    if (!this.ledger.crc32cActive) return this.ledger.absorb(released);
    // The queue hands back one view per write it held (its remaining part, or a prefix of it).
    const crc32cs = released.map((view) => this.#takeWriteCrc(view));
    this.ledger.absorb(released, crc32cs);
  }

  /** The CRC32C of `view`, the released head of the oldest write, when known (rule 5). */
  #takeWriteCrc(view: Uint8Array): number | undefined {
    const write = this.#writes[this.#writeHead]!;
    if (view.length === write.length) {
      this.#writeHead++;
      if (this.#writeHead === this.#writes.length) {
        this.#writes = [];
        this.#writeHead = 0;
      } else if (this.#writeHead >= 64 && this.#writeHead * 2 >= this.#writes.length) {
        this.#writes = this.#writes.slice(this.#writeHead);
        this.#writeHead = 0;
      }
      return write.crc32c;
    }
    // Only a prefix is released: read it, and derive what remains of the write's CRC32C.
    write.length -= view.length;
    if (write.crc32c === undefined) return undefined;
    const prefix = this.ledger.newCrc32c()!;
    prefix.update(view);
    const crc32c = prefix.value();
    write.crc32c = crc32cRemainder(write.crc32c, crc32c, write.length);
    return crc32c;
  }
}
