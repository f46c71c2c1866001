import { Readable } from "node:stream";

/**
 * Turns core's list of body views into a Readable that yields them in order without copying, and
 * reports the cumulative count as each view is handed to the HTTP client — the closest a Node
 * transport can get to "bytes left": the driver resets its stall timer on it.
 *
 * Views larger than `sliceSize` are yielded in slices so progress keeps ticking within one view, and so
 * that a stalled socket shows up as a stalled count rather than one giant write.
 */
export function bodyStream(
  views: readonly Uint8Array[],
  onProgress?: (bytesSent: number) => void,
  sliceSize = 256 * 1024,
): Readable {
  function* slices(): Generator<Uint8Array> {
    let sent = 0;
    for (const view of views) {
      for (let at = 0; at < view.byteLength; at += sliceSize) {
        const slice = view.subarray(at, Math.min(view.byteLength, at + sliceSize));
        yield slice;
        sent += slice.byteLength;
        onProgress?.(sent);
      }
    }
  }
  return Readable.from(slices(), { objectMode: false, highWaterMark: sliceSize });
}
