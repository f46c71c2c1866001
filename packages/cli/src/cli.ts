/**
 * `gcs-upload` as a function: `runCli(argv, io)` returns the exit code and touches nothing global
 * (no process.exit, no process.stdout), so tests and the demo run the very code path the binary runs.
 */
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { Transform, type Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { crc32c } from "@node-rs/crc32";
import { startEmulator, type Emulator } from "@resumable-gcs/emulator";
import {
  EndpointError,
  FileCheckpointStore,
  createUploadStream,
  redact,
  UploadError,
  type NodeUploadOptions,
  type ObjectResource,
  type UploadRetry,
} from "@resumable-gcs/node";
import { HELP, UsageError, parseCliArgs, type CliArgs } from "./args.js";
import { createProgressReporter, formatBytes, type ProgressReporter } from "./progress.js";

/** Exit codes, as documented in `--help` and the README. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** The process surface `runCli` uses; the binary passes the real one, tests pass their own. */
export interface CliIo {
  /** Read when the source is `-`. */
  readonly stdin: Readable;
  /** Only the `--json` line and `--help`/`--version` go here. */
  readonly stdout: Writable;
  /** Progress, notices and errors. */
  readonly stderr: Writable;
  /** Environment (`STORAGE_EMULATOR_HOST`, credentials variables). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Whether stderr is a terminal: decides between the live bar and plain lines. */
  readonly isTTY: boolean;
  /** Fires on Ctrl-C: the upload is cancelled, or kept resumable with `--resume`. */
  readonly signal?: AbortSignal;
}

/** The package version, read from package.json so `--version` never drifts from what is published. */
export function cliVersion(): string {
  const require = createRequire(import.meta.url);
  return (require("../package.json") as { version: string }).version;
}

/** Base64 of the big-endian CRC32C, the way GCS writes `crc32c`. */
export function crc32cBase64(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes.toString("base64");
}

/** What to do next, per error code: the end of the one error line. */
function adviceFor(code: string, args: CliArgs): string {
  switch (code) {
    case "unauthorized":
      return "check your credentials (gcloud auth application-default login) and that they may write to the bucket";
    case "precondition-failed":
      return "the object's generation did not match --if-generation-match; check the live generation";
    case "bad-request":
      return "check the bucket name, object name and options (does the bucket exist?)";
    case "session-expired":
      return args.resume === undefined ? "run the upload again" : `the saved session is gone; delete ${args.resume} and run again`;
    case "invalid-checkpoint":
      return `the state file does not match this upload; delete ${args.resume ?? "it"} or use another one`;
    case "source-not-replayable":
      return `stdin cannot be rewound; delete ${args.resume ?? "the state file"} and upload again from the start`;
    case "checksum-mismatch":
    case "data-lost":
      return "the stored object is not what was sent; upload again";
    case "retries-exhausted":
    case "deadline-exceeded":
    case "transient":
      return args.resume === undefined ? "check the network and run again" : `check the network and rerun with --resume ${args.resume} to continue`;
    case "invalid-argument":
      return "fix the argument and run again";
    default:
      return "see the message above; run with --help for usage";
  }
}

function errorCode(error: unknown): string {
  if (error instanceof UploadError) return error.code;
  if (error instanceof EndpointError) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code.toLowerCase() : "failed";
}

function errorMessage(error: unknown): string {
  return redact(error instanceof Error ? error.message : String(error));
}

/** A retry's reason without the request line: the URL adds nothing a user can act on, and length hides the point. */
function shortReason(message: string): string {
  const reason = message.replace(/^(?:GET|PUT|POST|DELETE) \S+(?: \([^)]*\))?: /, "");
  return reason.length > 100 ? `${reason.slice(0, 99)}…` : reason;
}

/** A pass-through that counts and CRC32Cs what the source yields: the "locally computed" side of the check. */
class Tap extends Transform {
  bytes: number;
  crc: number;
  constructor(startBytes: number, startCrc: number) {
    super();
    this.bytes = startBytes;
    this.crc = startCrc;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    this.crc = crc32c(chunk, this.crc);
    callback(null, chunk);
  }
}

/** CRC32C of a file's first `length` bytes: the local side when a resumed upload skips them. */
async function crcOfPrefix(path: string, length: number): Promise<number> {
  if (length === 0) return 0;
  let crc = 0;
  const stream = createReadStream(path, { start: 0, end: length - 1 });
  for await (const chunk of stream) crc = crc32c(chunk as Buffer, crc);
  return crc;
}

/**
 * Runs `gcs-upload` with `argv` (without node and script) and resolves with the exit code.
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout,
 *   stderr: process.stderr, env: process.env, isTTY: process.stderr.isTTY === true });
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const say = (line: string): void => {
    io.stderr.write(`${line}\n`);
  };
  let args: CliArgs;
  try {
    args = parseCliArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    say(`gcs-upload: usage: ${error.message}`);
    say("Run gcs-upload --help for usage and examples.");
    return EXIT.usage;
  }
  if (args.mode === "help") {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  if (args.mode === "version") {
    io.stdout.write(`${cliVersion()}\n`);
    return EXIT.ok;
  }

  const fail = (code: string, message: string, advice: string, exit: number = EXIT.failed): number => {
    if (args.json) io.stdout.write(`${JSON.stringify({ ok: false, code, message })}\n`);
    say(`gcs-upload: ${code}: ${message} — ${advice}`);
    return exit;
  };

  let emulator: Emulator | undefined;
  try {
    // The source first: a missing file is the cheapest mistake to report.
    const fromStdin = args.source === "-";
    let size: number | undefined;
    if (!fromStdin) {
      try {
        const info = await stat(args.source);
        if (!info.isFile()) return fail("invalid-argument", `${args.source} is not a regular file`, "give a file path, or - for stdin");
        size = info.size;
        // Fail now, not mid-upload, if the file cannot be read.
        await (await open(args.source, "r")).close();
      } catch (error) {
        return fail("invalid-argument", `cannot read ${args.source}: ${(error as Error).message}`, "check the path and its permissions");
      }
    }

    const store = args.resume === undefined ? undefined : new FileCheckpointStore(args.resume);
    const checkpoint: unknown = await store?.load();
    const savedPersisted = (checkpoint as { persisted?: unknown } | undefined)?.persisted;
    if (fromStdin && typeof savedPersisted === "number" && savedPersisted > 0) {
      return fail(
        "source-not-replayable",
        `${args.resume} records ${formatBytes(savedPersisted)} already persisted, and stdin cannot be replayed from that offset`,
        `pipe the data again from the start with a new state file, or delete ${args.resume}`,
      );
    }

    let apiEndpoint = args.endpoint;
    const extraHeaders: Record<string, string> = {};
    if (args.local) {
      emulator = await startEmulator({ buckets: [args.bucket], storage: "memory", latencyMs: args.localLatencyMs, autoCreateBuckets: true });
      apiEndpoint = emulator.url;
      if (args.localFaults.length > 0) {
        extraHeaders["x-retry-test-id"] = emulator.registerFaults({ "storage.objects.insert": [...args.localFaults] });
      }
      if (!args.quiet && !args.json) {
        say(`gcs-upload: --local: uploading to an embedded in-memory emulator at ${emulator.url} (gone when gcs-upload exits)`);
      }
    }

    const objectMetadata = {
      ...(args.contentType === undefined ? {} : { contentType: args.contentType }),
      ...(Object.keys(args.metadata).length === 0 ? {} : { metadata: args.metadata }),
    };
    const options: NodeUploadOptions = {
      bucket: args.bucket,
      name: args.name,
      env: io.env,
      ...(apiEndpoint === undefined ? {} : { apiEndpoint }),
      object: {
        ...(Object.keys(objectMetadata).length === 0 ? {} : { metadata: objectMetadata }),
        ...(args.ifGenerationMatch === undefined ? {} : { ifGenerationMatch: args.ifGenerationMatch }),
      },
      upload: {
        ...(args.chunkSize === undefined ? {} : { chunkSize: args.chunkSize }),
        ...(size === undefined ? {} : { totalSize: size }),
        ...(Object.keys(extraHeaders).length === 0 ? {} : { extraHeaders }),
      },
      checksum: args.checksum,
      ...(checkpoint === undefined ? {} : { checkpoint }),
      ...(store === undefined ? {} : { checkpointStore: store }),
      ...(io.signal === undefined ? {} : { signal: io.signal }),
      // With --resume, Ctrl-C must leave something to resume; without it, leave nothing behind.
      onAbort: args.resume === undefined ? "cancel" : "keep",
    };

    const upload = createUploadStream(options);
    const offset = upload.resumeOffset;
    const source = fromStdin ? io.stdin : createReadStream(args.source, { start: offset });
    const tap = new Tap(offset, fromStdin ? 0 : await crcOfPrefix(args.source, offset));

    const mode = args.quiet || args.json ? "none" : io.isTTY ? "tty" : "plain";
    const progress: ProgressReporter = createProgressReporter({ stream: io.stderr, mode, total: size, startOffset: offset });
    if (offset > 0 && mode !== "none") progress.log(`gcs-upload: resuming at ${formatBytes(offset)} from ${args.resume}`);
    upload.on("progress", ({ bytesPersisted }: { bytesPersisted: number }) => progress.update(bytesPersisted));
    upload.on("retry", ({ attempt, delayMs, error }: UploadRetry) => {
      // One short line per retry; the message is redacted so the session URI never reaches a log.
      if (!args.quiet && !args.json) {
        progress.log(`gcs-upload: retry ${attempt} in ${(delayMs / 1000).toFixed(1)}s: ${shortReason(errorMessage(error))}`);
      }
    });

    const started = Date.now();
    let object: ObjectResource;
    try {
      await pipeline(source, tap, upload);
      object = await upload.done;
    } catch (error) {
      progress.stop();
      if (io.signal?.aborted === true) {
        if (args.resume !== undefined) {
          const saved = upload.checkpoint();
          return fail(
            "interrupted",
            `upload stopped at ${formatBytes(saved?.persisted ?? 0)} persisted; the session is kept in ${args.resume}`,
            fromStdin && (saved?.persisted ?? 0) > 0
              ? "stdin cannot be replayed, so this session cannot be continued from stdin"
              : `run the same command again to continue`,
            EXIT.interrupted,
          );
        }
        return fail("interrupted", "upload cancelled; nothing was written", "run again to upload", EXIT.interrupted);
      }
      const code = errorCode(error);
      return fail(code, errorMessage(error), adviceFor(code, args));
    }
    progress.stop();

    const elapsedMs = Date.now() - started;
    const localCrc = crc32cBase64(tap.crc);
    const remoteSize = Number(object.size);
    // The check only means something for CRC32C-carrying objects; a none-checksum upload still gets
    // the remote CRC32C from GCS, which is computed server-side from what it stored.
    const crcMatch = object.crc32c === undefined || object.crc32c === localCrc;
    const sizeMatch = remoteSize === tap.bytes;
    const match = crcMatch && sizeMatch;
    if (args.json) {
      io.stdout.write(
        `${JSON.stringify({
          ok: match,
          bucket: object.bucket,
          name: object.name,
          size: remoteSize,
          crc32c: object.crc32c,
          md5Hash: object.md5Hash,
          generation: object.generation,
          elapsedMs,
          localSize: tap.bytes,
          localCrc32c: localCrc,
          ...(match ? {} : { code: "checksum-mismatch", message: "the stored object differs from the bytes read" }),
        })}\n`,
      );
    } else if (!args.quiet) {
      const where = args.local ? " (embedded emulator)" : "";
      say(`gcs-upload: uploaded gs://${object.bucket ?? args.bucket}/${object.name ?? args.name}${where} generation ${object.generation} in ${(elapsedMs / 1000).toFixed(1)}s`);
      say(`  size    object ${String(remoteSize).padStart(12)}   local ${String(tap.bytes).padStart(12)}   ${sizeMatch ? "MATCH" : "MISMATCH"}`);
      say(`  crc32c  object ${String(object.crc32c ?? "-").padStart(12)}   local ${localCrc.padStart(12)}   ${crcMatch ? "MATCH" : "MISMATCH"}`);
    }
    if (!match) {
      if (!args.json) say("gcs-upload: checksum-mismatch: the stored object differs from the bytes read — upload again");
      return EXIT.failed;
    }
    return EXIT.ok;
  } catch (error) {
    const code = errorCode(error);
    return fail(code, errorMessage(error), adviceFor(code, args));
  } finally {
    await emulator?.stop();
  }
}
