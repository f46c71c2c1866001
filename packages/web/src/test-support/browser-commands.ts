/**
 * vitest browser commands: Node-side halves of the cross-runtime checkpoint tests. The page calls
 * them through `commands` (vitest/browser); each runs the web adapter in this Node process (global
 * fetch, native checksums) against the same emulator, so a checkpoint crosses from Chromium to Node
 * and back as plain JSON.
 */
import type { BrowserCommand } from "vitest/node";
import { generate, generated } from "./data.js";
import { createUploadStream } from "../upload-stream.js";

/** What both commands get from the page. */
export interface CrossRuntimeArgs {
  readonly emulatorUrl: string;
  readonly bucket: string;
  readonly name: string;
  readonly size: number;
  readonly seed: number;
}

function options(args: CrossRuntimeArgs) {
  return { apiEndpoint: args.emulatorUrl, bucket: args.bucket, name: args.name, chunkSize: 256 * 1024, onAbort: "keep" as const, retry: { initialDelayMs: 5, maxDelayMs: 50 } };
}

/** Starts the upload in Node, writes the first `stopAfter` bytes, aborts keeping the session: returns the checkpoint. */
export const startUploadInNode: BrowserCommand<[CrossRuntimeArgs & { readonly stopAfter: number }]> = async (_context, args) => {
  const upload = createUploadStream(options(args));
  const writer = upload.getWriter();
  let written = 0;
  for (const part of generate(args.size, args.seed)) {
    if (written >= args.stopAfter) break;
    await writer.write(part);
    written += part.byteLength;
  }
  await writer.abort(new Error("handing over to the browser"));
  const outcome = await upload.aborted;
  if (outcome.outcome !== "kept" || outcome.checkpoint === undefined) throw new Error(`Node: abort outcome ${outcome.outcome}, no checkpoint`);
  return JSON.parse(JSON.stringify(outcome.checkpoint)) as unknown;
};

/** Resumes in Node from a checkpoint the page saved, writes the rest of the source: returns the object. */
export const resumeUploadInNode: BrowserCommand<[CrossRuntimeArgs & { readonly checkpoint: unknown }]> = async (_context, args) => {
  const upload = createUploadStream({ ...options(args), checkpoint: args.checkpoint });
  const rest = generated(args.size, args.seed).subarray(upload.resumeOffset);
  await new Blob([rest]).stream().pipeTo(upload);
  const object = await upload.done;
  return { size: object.size, crc32c: object.crc32c, resumeOffset: upload.resumeOffset };
};
