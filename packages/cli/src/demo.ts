/**
 * `pnpm demo`: streams 300 MiB from a deterministic generator through `gcs-upload`'s stdin path into
 * the embedded emulator while it injects 503s, resets, a short ack, a stall and a cut final response,
 * then prints the object's size and CRC32C next to the locally computed ones. It calls `runCli`
 * in-process with a generated stdin: the same code path as `producer | gcs-upload - gs://...`.
 */
import { Readable } from "node:stream";
import { stampedBlocks } from "@resumable-gcs/test-utils";
import { runCli } from "./cli.js";

/** Payload size: a few hundred MiB, enough to see the bar move through the faults. */
const TOTAL = Number(process.env["DEMO_MIB"] ?? 300) * 1024 * 1024;
const BLOCK = 1024 * 1024;

/** Deterministic bytes, fast: one pattern block copied per MiB with its index stamped (the workspace's shared generator). */
function* payload(total: number): Generator<Buffer> {
  for (const block of stampedBlocks(total, { blockSize: BLOCK })) yield Buffer.from(block.buffer, block.byteOffset, block.byteLength);
}

const FAULTS = [
  "return-503",
  "return-reset-connection-after-1024K",
  "return-short-ack-2048K",
  "stall-for-2s-after-512K",
  "return-503-after-4096K",
  "return-reset-connection",
  "return-short-ack-256K",
  "return-broken-stream-final-chunk-after-10B",
];

const started = Date.now();
process.stderr.write(`demo: ${TOTAL / 1024 / 1024} MiB from a generator -> gcs-upload - gs://demo-bucket/payload.bin --local\n`);
process.stderr.write(`demo: fault schedule: ${FAULTS.join(", ")}\n`);
const controller = new AbortController();
process.on("SIGINT", () => controller.abort());
const code = await runCli(["-", "gs://demo-bucket/payload.bin", "--local", "--local-faults", FAULTS.join(","), "--content-type", "application/octet-stream"], {
  stdin: Readable.from(payload(TOTAL)),
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  isTTY: process.stderr.isTTY === true,
  signal: controller.signal,
});
process.stderr.write(`demo: finished in ${((Date.now() - started) / 1000).toFixed(1)}s, exit code ${code}\n`);
process.exitCode = code;
