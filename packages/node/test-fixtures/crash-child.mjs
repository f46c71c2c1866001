// A child process for the crash test: uploads a deterministic stream with a file checkpoint store.
// Run once, it is SIGKILLed mid-upload; run again with the same checkpoint file, it resumes.
// Usage: node crash-child.mjs <endpoint> <bucket> <name> <checkpoint-file> <size> <seed>
import { Readable } from "node:stream";
import { FileCheckpointStore, uploadFrom } from "../dist/index.js";

const [endpoint, bucket, name, checkpointPath, sizeText, seedText] = process.argv.slice(2);
const size = Number(sizeText);

// The same xorshift32 stream as src/test-support/data.ts, from `offset` on.
function* generate(total, seed, offset) {
  const block = 64 * 1024;
  let x = seed >>> 0 || 0x9e3779b9;
  for (let at = 0; at < total; at += block) {
    const length = Math.min(block, total - at);
    const words = new Uint32Array(Math.ceil(length / 4));
    for (let i = 0; i < words.length; i += 1) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    const bytes = Buffer.from(words.buffer, 0, length);
    if (at + length <= offset) continue;
    yield at >= offset ? bytes : bytes.subarray(offset - at);
  }
}

const store = new FileCheckpointStore(checkpointPath);
const checkpoint = await store.load();
const object = await uploadFrom(
  Readable.from(generate(size, Number(seedText), checkpoint?.persisted ?? 0)),
  {
    apiEndpoint: endpoint,
    bucket,
    name,
    checkpoint,
    checkpointStore: store,
    upload: { chunkSize: 256 * 1024 },
  },
  (stream) => {
    if (stream.resumeOffset !== (checkpoint?.persisted ?? 0)) throw new Error("resume offset disagrees with the checkpoint");
  },
);
process.stdout.write(`${JSON.stringify({ size: object.size, crc32c: object.crc32c, resumedFrom: checkpoint?.persisted ?? 0 })}\n`);
