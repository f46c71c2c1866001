#!/usr/bin/env node
/**
 * `gcs-emulator`: runs the emulator until SIGINT/SIGTERM. Prints the URL alone on the first line of
 * stdout (scripts read it there); everything else goes to stderr.
 */
import { parseArgs } from "node:util";
import { startEmulator } from "./emulator.js";

const USAGE = `Usage: gcs-emulator [options]

  --host HOST            interface to bind (default 127.0.0.1)
  --port N               port to bind (default 0: any free port)
  --storage MODE         memory (default) or discard (keep only size, CRC32C, MD5)
  --no-md5               do not compute MD5 (CRC32C only): objects have no md5Hash, an md5 to
                         check is refused with 400; for benchmarks where CPU is scarce
  --latency-ms N         delay every response by N ms (default 0)
  --session-ttl-ms N     upload session lifetime (default 7 days)
  --bucket NAME          create a bucket at start (repeatable)
  --auto-create-buckets  create buckets on first use instead of answering 404
  --no-cors              send no CORS headers (a browser client gets its CORS error),
                         like a GCS bucket without a CORS configuration
  --verbose              log one line per request to stderr
  --help                 show this help
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: "string" },
      port: { type: "string" },
      storage: { type: "string" },
      "no-md5": { type: "boolean" },
      "latency-ms": { type: "string" },
      "session-ttl-ms": { type: "string" },
      bucket: { type: "string", multiple: true },
      "auto-create-buckets": { type: "boolean" },
      "no-cors": { type: "boolean" },
      verbose: { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const storage = values.storage ?? "memory";
  if (storage !== "memory" && storage !== "discard") throw new Error(`--storage must be memory or discard, not "${storage}".`);
  const emulator = await startEmulator({
    host: values.host,
    port: integer("--port", values.port),
    storage,
    md5: values["no-md5"] !== true,
    latencyMs: integer("--latency-ms", values["latency-ms"]),
    sessionTtlMs: integer("--session-ttl-ms", values["session-ttl-ms"]),
    buckets: values.bucket,
    autoCreateBuckets: values["auto-create-buckets"],
    cors: values["no-cors"] !== true,
    logger: values.verbose ? (line) => process.stderr.write(`${line}\n`) : undefined,
  });
  process.stdout.write(`${emulator.url}\n`);
  process.stderr.write(`gcs-emulator listening on ${emulator.url} (storage: ${storage}${values["no-md5"] === true ? ", no MD5" : ""}); Ctrl-C to stop\n`);
  const stop = (signal: string): void => {
    process.stderr.write(`gcs-emulator: ${signal}, stopping\n`);
    void emulator.stop().then(() => process.exit(0));
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
}

function integer(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) throw new Error(`${flag} expects a non-negative integer, not "${text}".`);
  return value;
}

main().catch((error: unknown) => {
  process.stderr.write(`gcs-emulator: ${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  process.exitCode = 2;
});
