import type { Writable } from "node:stream";

/**
 * Bytes handed to the socket per write: 1 MiB. Small enough that progress (and so the stall timer)
 * ticks within a chunk; large enough that the per-write cost (a syscall, TCP segmenting) stays low:
 * against 256 KiB slices, 10-14% less client CPU per GiB on loopback.
 */
export const WRITE_SLICE = 1024 * 1024;

/**
 * Writes core's body views to an HTTP request in slices, as they are (no copy, no stream adapter in
 * between), reporting the cumulative count after each slice is handed over — the closest a Node
 * transport can get to "bytes left": the driver resets its stall timer on it. It waits for 'drain'
 * whenever the request's buffer is full, so memory stays with the caller's buffers. Resolves once
 * every view is written (the caller then ends the request), or early when the request was destroyed.
 *
 * @throws (rejects) an `ECONNRESET` error when the request closes while a write waits for 'drain'.
 */
export async function writeViews(
  req: Writable,
  views: readonly Uint8Array[],
  onProgress: ((bytesSent: number) => void) | undefined,
  sliceSize = WRITE_SLICE,
): Promise<void> {
  let sent = 0;
  for (const view of views) {
    for (let at = 0; at < view.byteLength; at += sliceSize) {
      if (req.destroyed) return;
      const slice = at === 0 && view.byteLength <= sliceSize ? view : view.subarray(at, Math.min(view.byteLength, at + sliceSize));
      const more = req.write(slice);
      sent += slice.byteLength;
      onProgress?.(sent);
      if (!more) await drained(req);
    }
  }
}

function drained(req: Writable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onDrain = (): void => {
      req.off("close", onClose);
      resolve();
    };
    const onClose = (): void => {
      req.off("drain", onDrain);
      reject(Object.assign(new Error("socket closed while writing"), { code: "ECONNRESET" }));
    };
    req.once("drain", onDrain);
    req.once("close", onClose);
  });
}
