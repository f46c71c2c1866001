/**
 * The pump: moves chunks from a {@link ChunkReader} into an upload, pulling only when the upload
 * wants data.
 *
 * Rules:
 * - A chunk is pulled only when no write is waiting on backpressure, or, with `readAhead` > 0, while
 *   the bytes pulled but not yet accepted stay below `readAhead`. So the source is never read further
 *   ahead than one chunk plus `readAhead` bytes of what the upload has accepted.
 * - The upload's own end is watched at every step: when it fails or is aborted (the `signal`), the
 *   pump stops at once, even while a pull is outstanding, and closes the source.
 * - A source that throws, or yields something that is not bytes, stops the upload through
 *   `abort()`, which applies `onAbort` (cancel the session, or keep it resumable).
 * - The source is closed (`return()`/`cancel()`) whenever the pump stops before the source ended.
 *   The pump waits for that to finish (a generator's `finally` has run when the promise settles),
 *   except while a pull is still outstanding: an iterator's `return()` then waits for that pull, which
 *   may never come, so it is requested and the pump settles without it.
 */
import { UploadError, type AbortSignalLike, type ObjectResource } from "@resumable-gcs/core";
import type { ChunkReader } from "./source.js";

/** What an abort did to the session, as the upload layer reports it. */
export type SinkAbortOutcome =
  | { readonly outcome: "cancelled" }
  | { readonly outcome: "kept" }
  | { readonly outcome: "committed"; readonly object: ObjectResource };

/** The part of an upload the pump drives (the upload layer's `Upload` satisfies it). */
export interface UploadSink {
  /** Hands bytes over; resolves when the upload wants more. */
  write(bytes: Uint8Array): Promise<void>;
  /** Ends the data; resolves with the verified object. */
  end(): Promise<ObjectResource>;
  /** Stops the upload, applying its `onAbort` policy. Never rejects. */
  abort(reason?: unknown): Promise<SinkAbortOutcome>;
  /** Settles when the upload ends, whatever ended it. */
  readonly done: Promise<ObjectResource>;
}

/** How the pump reads. */
export interface PumpOptions {
  /** Bytes the pump may pull beyond what the upload has accepted (0: pull only when it wants data). */
  readonly readAhead: number;
  /** A chunk already pulled from the reader, handed over before anything else is read. */
  readonly first?: Uint8Array;
  /**
   * The upload's abort signal: once it fires the upload is ending on its own (the layer applies
   * `onAbort`), so nothing more is written or pulled, and the upload's end is the answer.
   */
  readonly signal?: AbortSignalLike;
}

type Step =
  | { readonly kind: "pulled"; readonly chunk: Uint8Array | undefined }
  | { readonly kind: "pull-failed"; readonly error: unknown }
  | { readonly kind: "written" }
  | { readonly kind: "write-failed"; readonly error: unknown }
  | { readonly kind: "upload-done"; readonly object: ObjectResource }
  | { readonly kind: "upload-failed"; readonly error: unknown }
  | { readonly kind: "stopping" };

/** A message for an error of any shape, for a wrapping error's text. */
export function reasonText(error: unknown): string {
  if (error instanceof Error) return error.message === "" ? error.name : `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * The error `upload()` rejects with when the source failed: the source's error is the `cause`; the
 * code says what became of the session (`cancelled`: deleted, or none existed; `aborted`: kept, resume
 * from the checkpoint). A chunk that is not bytes rejects with its ValidationError instead.
 */
export function sourceFailure(error: unknown, bytesRead: number, outcome: SinkAbortOutcome["outcome"] | "none"): UploadError {
  if (error instanceof UploadError && error.code === "invalid-argument") return error;
  const what = `the source failed after ${bytesRead} bytes (${reasonText(error)})`;
  if (outcome === "kept") return new UploadError("aborted", `${what}; the session was kept: resume from the checkpoint`, { cause: error });
  const fate = outcome === "none" ? "no session had been started" : "the session was cancelled";
  return new UploadError("cancelled", `${what}; ${fate}`, { cause: error, retryable: false });
}

/**
 * Runs `reader` into `sink` until the source ends (then resolves with the verified object) or
 * something stops the upload (then rejects: with the upload's error, or {@link sourceFailure}).
 */
export async function pump(reader: ChunkReader, sink: UploadSink, options: PumpOptions): Promise<ObjectResource> {
  const queue: Uint8Array[] = options.first === undefined ? [] : [options.first];
  let queued = options.first?.byteLength ?? 0;
  let writing = false;
  let writingBytes = 0;
  let pulling = false;
  let sourceEnded = false;

  // One mailbox for everything that can happen; each promise gets exactly one reaction. (Racing the
  // long-lived `done` promise at every step would pile a reaction per step onto it: memory and GC
  // time that grow with the number of chunks.)
  const inbox: Step[] = [];
  let wake: (() => void) | undefined;
  let uploadOver: Step | undefined;
  const post = (step: Step): void => {
    inbox.push(step);
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  sink.done.then(
    (object) => post((uploadOver = { kind: "upload-done", object })),
    (error: unknown) => post((uploadOver = { kind: "upload-failed", error })),
  );
  const nextStep = async (): Promise<Step> => {
    for (;;) {
      // The upload's end comes first: nothing queued before it matters any more.
      if (uploadOver !== undefined) return uploadOver;
      const step = inbox.shift();
      if (step !== undefined) return step;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };

  const closeSource = (reason: unknown): Promise<void> => reader.release(reason);
  const signal = options.signal;
  const stopping = (): boolean => signal?.aborted === true;
  const onSignal = (): void => post({ kind: "stopping" });
  signal?.addEventListener("abort", onSignal, { once: true });
  try {
    return await run();
  } finally {
    signal?.removeEventListener("abort", onSignal);
  }

  async function run(): Promise<ObjectResource> {

    for (;;) {
      if (!writing && queue.length > 0 && !stopping()) {
        const bytes = queue.shift()!;
        queued -= bytes.byteLength;
        writingBytes = bytes.byteLength;
        let written: Promise<void>;
        try {
          written = sink.write(bytes);
        } catch (error) {
          // A sink that throws instead of rejecting is handled the same way: stop, close, report.
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passed on untouched
          written = Promise.reject(error);
        }
        writing = true;
        written.then(
          () => post({ kind: "written" }),
          (error: unknown) => post({ kind: "write-failed", error }),
        );
      }
      if (sourceEnded && !writing && !stopping()) break;
      if (!sourceEnded && !pulling && !stopping() && (!writing || queued + writingBytes < options.readAhead)) {
        pulling = true;
        reader.next().then(
          (chunk) => post({ kind: "pulled", chunk }),
          (error: unknown) => post({ kind: "pull-failed", error }),
        );
      }
      const step = await nextStep();
      switch (step.kind) {
        case "pulled":
          pulling = false;
          if (step.chunk === undefined) sourceEnded = true;
          else {
            queue.push(step.chunk);
            queued += step.chunk.byteLength;
          }
          break;
        case "written":
          writing = false;
          writingBytes = 0;
          break;
        case "pull-failed": {
          if (stopping()) break; // the abort came first: the upload's end is the answer
          const aborted = await sink.abort(step.error);
          await closeSource(step.error);
          if (aborted.outcome === "committed") return aborted.object;
          throw sourceFailure(step.error, reader.bytesRead, aborted.outcome);
        }
        case "stopping":
          // Wait for the upload's end (it comes first out of the mailbox).
          break;
        case "write-failed": {
          if (stopping()) break; // a write refused because the upload is being cancelled: its end is the answer
          // Either the upload has failed (the write carries its error), or the write itself was refused
          // (more bytes than the declared totalSize) and the upload must be stopped here: abort() does
          // that, and is a no-op on an upload that has already ended.
          const aborted = await sink.abort(step.error);
          await closeSource(step.error);
          if (aborted.outcome === "committed") return aborted.object;
          throw step.error;
        }
        case "upload-failed":
          // The upload ended before the source did (a failure, an abort through the signal).
          await closeSource(step.error);
          throw step.error;
        case "upload-done":
          // Only an abort racing a final request can commit before `end()`; the object exists, verified.
          await closeSource(undefined);
          return step.object;
      }
    }
    try {
      return await sink.end();
    } catch (error) {
      // end() refuses fewer bytes than a declared totalSize without ending the upload: stop it.
      await sink.abort(error);
      throw error;
    }
  }
}
