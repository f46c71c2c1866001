import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ObjectResource } from "@resumable-gcs/core";
import { createUploadStream, type NodeUploadOptions, type UploadStream } from "./upload-stream.js";

/**
 * Uploads everything a source yields into one object and resolves with the verified object
 * resource; rejects with the {@link UploadError} (or the source's error) that stopped it.
 * `onStream` sees the {@link UploadStream} first, to listen to `progress`, `session` and `retry`.
 *
 * @example
 * ```ts
 * const object = await uploadFrom(process.stdin, { bucket: "logs", name: "build/123.txt" });
 * ```
 */
export async function uploadFrom(
  source: Readable | AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  options: NodeUploadOptions,
  onStream?: (stream: UploadStream) => void,
): Promise<ObjectResource> {
  const stream = createUploadStream(options);
  onStream?.(stream);
  await pipeline(source, stream);
  return stream.done;
}
