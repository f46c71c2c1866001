/**
 * The bytes the caller wrote and the server has not acknowledged yet, addressed by absolute stream
 * offset.
 *
 * Rules:
 * - Buffers are held BY REFERENCE: `push` never copies, and `views` hands out `subarray` views onto
 *   the caller's own memory. The caller must not modify a buffer after writing it until the bytes are
 *   acknowledged (the same contract as a Node Writable).
 * - `release` drops acknowledged bytes at once, so retained memory is exactly the unacknowledged
 *   bytes, and it gives the dropped views back so the running checksums can absorb them in order.
 * - Offsets only move forward: `oldestOffset` ≤ `endOffset`, both monotonic.
 */
export class ByteQueue {
  #segments: Uint8Array[] = [];
  /** Index in `#segments` of the oldest live segment (dead ones are compacted away in batches). */
  #head = 0;
  /** Bytes of the head segment already released. */
  #headSkip = 0;
  #oldest: number;
  #end: number;

  /** @param startOffset - the absolute stream offset of the first byte that will be pushed. */
  constructor(startOffset = 0) {
    this.#oldest = startOffset;
    this.#end = startOffset;
  }

  /** Absolute offset of the oldest retained byte (everything below was released). */
  get oldestOffset(): number {
    return this.#oldest;
  }

  /** Absolute offset just past the last byte pushed. */
  get endOffset(): number {
    return this.#end;
  }

  /** Bytes currently held: `endOffset - oldestOffset`. */
  get retainedBytes(): number {
    return this.#end - this.#oldest;
  }

  /** Appends the caller's buffer, by reference. Empty buffers are ignored. */
  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#segments.push(bytes);
    this.#end += bytes.length;
  }

  /**
   * Views (no copies) covering the absolute range [from, to), in order.
   *
   * @throws RangeError when the range is not within [oldestOffset, endOffset].
   */
  views(from: number, to: number): Uint8Array[] {
    if (from < this.#oldest || to > this.#end || from > to) {
      throw new RangeError(`byte queue: range [${from}, ${to}) is outside the retained [${this.#oldest}, ${this.#end})`);
    }
    const out: Uint8Array[] = [];
    if (from === to) return out;
    let position = this.#oldest;
    for (let i = this.#head; i < this.#segments.length && position < to; i++) {
      let segment = this.#segments[i]!;
      if (i === this.#head && this.#headSkip > 0) segment = segment.subarray(this.#headSkip);
      const start = position;
      const stop = position + segment.length;
      position = stop;
      if (stop <= from) continue;
      const a = Math.max(from, start) - start;
      const b = Math.min(to, stop) - start;
      out.push(a === 0 && b === segment.length ? segment : segment.subarray(a, b));
    }
    return out;
  }

  /**
   * Drops every byte below `upTo` and returns views of the dropped bytes, in order, so the caller can
   * feed them to a running checksum before they are gone.
   *
   * @throws RangeError when `upTo` is beyond `endOffset`.
   */
  release(upTo: number): Uint8Array[] {
    if (upTo > this.#end) {
      throw new RangeError(`byte queue: cannot release up to ${upTo}, only ${this.#end} bytes were pushed`);
    }
    const dropped: Uint8Array[] = [];
    while (this.#oldest < upTo) {
      const segment = this.#segments[this.#head]!;
      const live = segment.length - this.#headSkip;
      const take = Math.min(live, upTo - this.#oldest);
      dropped.push(this.#headSkip === 0 && take === segment.length ? segment : segment.subarray(this.#headSkip, this.#headSkip + take));
      this.#oldest += take;
      if (take === live) {
        // Forget the reference at once: the caller's buffer must become collectable now, not later.
        this.#segments[this.#head] = EMPTY;
        this.#head++;
        this.#headSkip = 0;
      } else {
        this.#headSkip += take;
      }
    }
    this.#compact();
    return dropped;
  }

  /** Removes dead slots in batches, keeping `release` amortised O(1) per segment. */
  #compact(): void {
    if (this.#head === this.#segments.length) {
      this.#segments = [];
      this.#head = 0;
    } else if (this.#head >= 64 && this.#head * 2 >= this.#segments.length) {
      this.#segments = this.#segments.slice(this.#head);
      this.#head = 0;
    }
  }
}

const EMPTY = new Uint8Array(0);
