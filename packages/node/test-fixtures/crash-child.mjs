// A child process for the crash test: uploads a deterministic stream with a file checkpoint store.
// Run once, it is SIGKILLed mid-upload; run again with the same checkpoint file, it resumes.
// Usage: node crash-child.mjs <endpoint> <bucket> <name> <checkpoint-file> <size> <seed> [parallelism]
// With a parallelism, the upload is an XML multipart one (5 MiB parts) and its checkpoint a multipart one.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { patternChunks } from "@resumable-gcs/test-utils";
import { FileCheckpointStore, createUploadStream } from "../dist/index.js";

const [endpoint, bucket, name, checkpointPath, sizeText, seedText, parallelText] = process.argv.slice(2);
const size = Number(sizeText);

// The same stream as src/test-support/data.ts (the workspace's one generator, built), from `offset` on.
function* generate(total, seed, offset) {
  for (const chunk of patternChunks(total, { seed, from: offset })) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

const store = new FileCheckpointStore(checkpointPath);
const checkpoint = await store.load();
const shape = parallelText === undefined ? { chunkSize: 256 * 1024 } : { parallelism: Number(parallelText), partSize: 5 * 1024 * 1024 };
const stream = createUploadStream({ apiEndpoint: endpoint, bucket, name, checkpoint, checkpointStore: store, ...shape });
// The source starts where the checkpoint says GCS holds the upload (0 on a fresh run).
await pipeline(Readable.from(generate(size, Number(seedText), stream.resumeOffset)), stream);
const object = await stream.done;
process.stdout.write(`${JSON.stringify({ size: object.size, crc32c: object.crc32c, resumedFrom: stream.resumeOffset })}\n`);
