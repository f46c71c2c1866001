/**
 * `gcs-upload` as a function: `runCli(argv, io)` returns the exit code and touches nothing global
 * (no process.exit, no process.stdout), so tests and the demo run the very code path the binary runs.
 *
 * Order of work, so that bad input costs nothing: parse and check every argument, the source, the state file
 * and (when data is given again to a saved session) the data's first bytes against the saved CRC32C; only
 * then open a session. Every refusal before that point is exit 2 with a documented code.
 */
import { createReadStream } from "node:fs";
import { access, constants, mkdir, open, rename, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { Transform, type Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { crc32c } from "@node-rs/crc32";
import { isMultipartCheckpoint, parseUploadCheckpoint, resumePointOf, type UploadCheckpoint } from "@resumable-gcs/core";
import { startEmulator, type Emulator } from "@resumable-gcs/emulator";
import {
  FileCheckpointStore,
  createUploadStream,
  nodeRuntime,
  redact,
  UploadError,
  type NodeUploadOptions,
  type ObjectResource,
  type UploadRetry,
} from "@resumable-gcs/node";
import { HELP, UsageError, parseCliArgs, type CliArgs } from "./args.js";
import { crc32cBase64 } from "./crc.js";
import { CliError, finalizeSession, sessionStatus } from "./finalize.js";
import { consumePrefix, crcOfFilePrefix } from "./prefix.js";
import { createProgressReporter, formatBytes, type ProgressReporter } from "./progress.js";

export { crc32cBase64 } from "./crc.js";

/** Exit codes, as documented in `--help` and the README. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** Codes that mean "bad input, nothing sent": exit 2, like a bad flag. */
export const BAD_INPUT_CODES: ReadonlySet<string> = new Set(["invalid-argument", "invalid-checkpoint", "untrusted-session-uri", "source-mismatch"]);

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

/** What to do next, per error code: the end of the one error line. */
function adviceFor(code: string, args: CliArgs): string {
  switch (code) {
    case "unauthorized":
    case "auth":
      return "check your credentials (gcloud auth application-default login, GOOGLE_APPLICATION_CREDENTIALS) and that they may write to the bucket, or use --local / an emulator";
    case "precondition-failed":
      return "the object's generation did not match --if-generation-match; check the live generation";
    case "bad-request":
      return "check the bucket name, object name and options (does the bucket exist?)";
    case "session-expired":
      return "run the upload again from the start";
    case "invalid-checkpoint":
      return `the state file does not match this upload; delete ${args.resume ?? "it"} or use another one`;
    case "source-mismatch":
      return `give the same data the session was started with, or delete ${args.resume ?? "the state file"} to start over`;
    case "checksum-mismatch":
    case "data-lost":
      return "the stored object is not what was sent; upload again";
    case "retries-exhausted":
    case "deadline-exceeded":
    case "transient":
      return args.resume === undefined ? "check the network and run again" : `check the network and rerun with --resume ${args.resume} to continue`;
    case "invalid-argument":
    case "untrusted-session-uri":
      return "fix the argument and run again (gcs-upload --help)";
    default:
      return "see the message above; run with --help for usage";
  }
}

function errorCode(error: unknown): string {
  if (error instanceof UploadError || error instanceof CliError) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[a-z][a-z-]*$/.test(code) ? code : "failed";
}

function errorMessage(error: unknown): string {
  return redact(error instanceof Error ? error.message : String(error));
}

/** A retry's reason without the request line: the URL adds nothing a user can act on, and length hides the point. */
function shortReason(message: string): string {
  const reason = message.replace(/^(?:GET|PUT|POST|DELETE) \S+(?: \([^)]*\))?: /, "");
  return reason.length > 100 ? `${reason.slice(0, 99)}…` : reason;
}

/** A pass-through that counts and CRC32Cs what goes to GCS: the "locally computed" side of the check. */
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

/**
 * Where the saved upload resumes and the CRC32C of what comes before: a session's offset (either
 * checkpoint version), or a multipart upload's completed parts from part 1 (their CRC32Cs combined).
 */
function savedPosition(checkpoint: unknown): { offset: number; crc32c: number | undefined } {
  const { resumeOffset, crc32c } = resumePointOf(parseUploadCheckpoint(checkpoint));
  return { offset: resumeOffset, crc32c };
}

/** True when the command line asks for a parallel (XML multipart) upload. */
function wantsParallel(args: CliArgs): boolean {
  return args.parallelism !== undefined || args.partSize !== undefined;
}

/**
 * A state file resumes only the kind of upload that wrote it: say which flags continue it rather than
 * let the library refuse the combination with a message about options the user never wrote.
 */
function checkStateKind(args: CliArgs, checkpoint: unknown): void {
  if (checkpoint === undefined) return;
  const multipart = isMultipartCheckpoint(checkpoint as UploadCheckpoint);
  if (multipart && !wantsParallel(args)) {
    throw new CliError(
      "invalid-argument",
      `state file ${args.resume} holds a parallel (XML multipart) upload: rerun with --parallel (and the same --part-size) to continue it, or delete the state file to start over`,
      2,
    );
  }
  if (!multipart && wantsParallel(args)) {
    throw new CliError(
      "invalid-argument",
      `state file ${args.resume} holds a resumable session, which a parallel upload cannot continue: rerun without --parallel/--part-size to continue it, or delete the state file to start over`,
      2,
    );
  }
}

/** Refuses a state path that cannot be read and written, before anything is sent. */
async function checkStatePath(path: string): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new CliError("invalid-argument", `cannot use state file ${path}: ${(error as Error).message}`, 2);
  }
  if (info !== undefined && !info.isFile()) throw new CliError("invalid-argument", `state file ${path} is not a regular file`, 2);
  try {
    if (info === undefined) {
      await mkdir(dirname(path), { recursive: true });
      await access(dirname(path), constants.W_OK);
    } else {
      await access(path, constants.R_OK | constants.W_OK);
    }
  } catch (error) {
    throw new CliError("invalid-argument", `cannot write state file ${path}: ${(error as Error).message}`, 2);
  }
}

/** Loads and checks the state file's checkpoint: `undefined` when there is none yet. */
async function loadCheckpoint(store: FileCheckpointStore): Promise<unknown> {
  let value: unknown;
  try {
    value = await store.load();
  } catch (error) {
    if (errorCode(error) === "invalid-checkpoint") throw new CliError("invalid-checkpoint", errorMessage(error), 2);
    throw new CliError("invalid-argument", `cannot read state file ${store.path}: ${(error as Error).message}`, 2);
  }
  if (value === undefined) return undefined;
  try {
    parseUploadCheckpoint(value);
  } catch (error) {
    throw new CliError("invalid-checkpoint", `state file ${store.path}: ${errorMessage(error)}`, 2);
  }
  return value;
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
    // --json may not have been understood, but whoever asked for it still gets their one line.
    if (argv.includes("--json")) io.stdout.write(`${JSON.stringify({ ok: false, code: error.code, message: error.message })}\n`);
    say(`gcs-upload: ${error.code}: ${error.message} — run gcs-upload --help for usage and examples`);
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

  const fail = (code: string, message: string, advice: string, exit?: number): number => {
    if (args.json) io.stdout.write(`${JSON.stringify({ ok: false, code, message })}\n`);
    say(`gcs-upload: ${code}: ${message} — ${advice}`);
    return exit ?? (BAD_INPUT_CODES.has(code) ? EXIT.usage : EXIT.failed);
  };
  const failWith = (error: unknown): number => {
    const code = errorCode(error);
    if (code === "interrupted") return fail(code, errorMessage(error), "run again to continue", EXIT.interrupted);
    return fail(code, errorMessage(error), adviceFor(code, args), error instanceof CliError ? error.exitCode : undefined);
  };

  if (args.mode === "finalize") return await runFinalize(args, io, say, failWith);

  let emulator: Emulator | undefined;
  try {
    return await runUpload(args, io, say, fail, failWith, (started) => (emulator = started));
  } catch (error) {
    return failWith(error);
  } finally {
    await emulator?.stop();
  }
}

/** `--finalize STATE`: commit what the saved session holds. */
async function runFinalize(args: CliArgs, io: CliIo, say: (line: string) => void, failWith: (error: unknown) => number): Promise<number> {
  const path = args.resume!;
  try {
    const store = new FileCheckpointStore(path);
    await checkStatePath(path);
    const checkpoint = await loadCheckpoint(store);
    if (checkpoint === undefined) throw new CliError("invalid-argument", `state file ${path} does not exist`, 2);
    if (isMultipartCheckpoint(checkpoint as UploadCheckpoint)) {
      throw new CliError(
        "invalid-argument",
        `state file ${path} holds a parallel (XML multipart) upload, not a session: --finalize commits a resumable session only; rerun the upload with --resume ${path} --parallel N to finish it`,
        2,
      );
    }
    const result = await finalizeSession({
      checkpoint,
      env: io.env,
      ...(args.endpoint === undefined ? {} : { apiEndpoint: args.endpoint }),
      ...(io.signal === undefined ? {} : { signal: io.signal }),
    });
    await store.clear();
    const { object, committedBytes, crc32c: check } = result;
    if (args.json) {
      io.stdout.write(
        `${JSON.stringify({ ok: check !== "mismatch", finalized: true, alreadyFinal: result.alreadyFinal, bucket: object.bucket, name: object.name, size: committedBytes, crc32c: object.crc32c, md5Hash: object.md5Hash, generation: object.generation, crc32cCheck: check })}\n`,
      );
    }
    if (!args.quiet) {
      const how = result.alreadyFinal ? "was already final" : "committed the bytes the session held";
      say(`gcs-upload: finalized gs://${object.bucket}/${object.name} generation ${object.generation}: ${how}, ${committedBytes} bytes (${formatBytes(committedBytes)})`);
      const crcNote =
        check === "match" ? "MATCH with the state file" : check === "mismatch" ? "MISMATCH with the state file" : "not checked (GCS held bytes beyond the state file's record)";
      say(`  crc32c  object ${object.crc32c ?? "-"}   ${crcNote}`);
    }
    if (check === "mismatch") {
      say("gcs-upload: checksum-mismatch: the committed object's CRC32C differs from the one the state file recorded — the object exists; check it before relying on it");
      return EXIT.failed;
    }
    return EXIT.ok;
  } catch (error) {
    return failWith(error);
  }
}

async function runUpload(
  args: CliArgs,
  io: CliIo,
  say: (line: string) => void,
  fail: (code: string, message: string, advice: string, exit?: number) => number,
  failWith: (error: unknown) => number,
  onEmulator: (emulator: Emulator) => void,
): Promise<number> {
  // --- checks that send nothing ---
  const fromStdin = args.source === "-";
  let size: number | undefined;
  if (!fromStdin) {
    let info;
    try {
      info = await stat(args.source);
      // Fail now, not mid-upload, if the file cannot be read.
      await (await open(args.source, "r")).close();
    } catch (error) {
      return fail("invalid-argument", `cannot read ${args.source}: ${(error as Error).message}`, "check the path and its permissions");
    }
    if (!info.isFile()) return fail("invalid-argument", `${args.source} is not a regular file`, "give a file path, or - for stdin");
    size = info.size;
  }
  const store = args.resume === undefined ? undefined : new FileCheckpointStore(args.resume);
  if (args.resume !== undefined) await checkStatePath(args.resume);
  let checkpoint: unknown = store === undefined ? undefined : await loadCheckpoint(store);
  checkStateKind(args, checkpoint);

  let emulator: Emulator | undefined;
  let apiEndpoint = args.endpoint;
  const extraHeaders: Record<string, string> = { ...args.headers };
  if (args.local) {
    emulator = await startEmulator({ buckets: [args.bucket], storage: "memory", latencyMs: args.localLatencyMs, autoCreateBuckets: true });
    onEmulator(emulator);
    apiEndpoint = emulator.url;
    if (args.localFaults.length > 0) {
      try {
        extraHeaders["x-retry-test-id"] = emulator.registerFaults({ "storage.objects.insert": [...args.localFaults] });
      } catch (error) {
        return fail("invalid-argument", `--local-faults: ${(error as Error).message}`, "use instructions from the emulator's fault vocabulary");
      }
    }
    if (!args.quiet && !args.json) say(`gcs-upload: --local: uploading to an embedded in-memory emulator at ${emulator.url} (gone when gcs-upload exits)`);
  }

  // A gone session (expired, deleted) is restarted from byte 0 when the source can be read again: a file.
  for (let restarted = false; ; restarted = true) {
    const guarded = store === undefined ? undefined : new GuardedStore(store);
    const outcome = await uploadOnce(args, io, say, { checkpoint, store: guarded, size, fromStdin, apiEndpoint, extraHeaders });
    // No save of this attempt may land after this point: the state file is about to be cleared or set aside.
    await guarded?.close();
    if (outcome.kind === "done") return outcome.exit;
    const code = errorCode(outcome.error);
    if (code === "session-expired" && store !== undefined && checkpoint !== undefined) {
      if (!fromStdin && !restarted) {
        await store.clear();
        checkpoint = undefined;
        if (!args.quiet) say(`gcs-upload: the saved session is gone (expired or deleted); starting over from byte 0 with a new session`);
        continue;
      }
      if (fromStdin) {
        const aside = `${args.resume}.gone-${new Date().toISOString().replace(/[:.]/g, "-")}`;
        await rename(args.resume!, aside).catch(() => undefined);
        return fail(
          "session-expired",
          `the saved session is gone (expired or deleted) and stdin cannot be replayed from byte 0 in this run; the state file was set aside as ${aside}`,
          "pipe the data again: the next run starts a new session",
        );
      }
    }
    return failWith(outcome.error);
  }
}

type Outcome = { kind: "done"; exit: number } | { kind: "error"; error: unknown };

/**
 * The state file as one attempt's checkpoint store: once closed, saves are dropped and those in flight are
 * awaited, so a late save of a finished attempt cannot recreate a file the CLI cleared or set aside.
 */
class GuardedStore {
  readonly #inner: FileCheckpointStore;
  readonly #pending = new Set<Promise<void>>();
  #closed = false;
  constructor(inner: FileCheckpointStore) {
    this.#inner = inner;
  }
  load(): Promise<unknown> {
    return this.#inner.load();
  }
  save(checkpoint: Parameters<FileCheckpointStore["save"]>[0]): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const saving = this.#inner.save(checkpoint);
    this.#pending.add(saving);
    void saving.then(
      () => this.#pending.delete(saving),
      () => this.#pending.delete(saving),
    );
    return saving;
  }
  /** Clearing ends the attempt's saving first, so nothing writes the file again afterwards. */
  async clear(): Promise<void> {
    await this.close();
    await this.#inner.clear();
  }
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#pending]);
  }
}

interface Attempt {
  readonly checkpoint: unknown;
  readonly store: GuardedStore | undefined;
  readonly size: number | undefined;
  readonly fromStdin: boolean;
  readonly apiEndpoint: string | undefined;
  readonly extraHeaders: Readonly<Record<string, string>>;
}

/** The upload options for the Node adapter: the one place that knows its option shape. */
function uploadOptions(args: CliArgs, io: CliIo, attempt: Attempt): NodeUploadOptions {
  const objectMetadata = {
    ...(args.gzip ? { contentEncoding: "gzip" } : {}),
    ...(Object.keys(args.metadata).length === 0 ? {} : { metadata: args.metadata }),
  };
  // With gzip the stored size is not the file's size: leave the total unknown.
  const totalSize = args.gzip ? undefined : attempt.size;
  return {
    bucket: args.bucket,
    name: args.name,
    ...(attempt.apiEndpoint === undefined ? {} : { apiEndpoint: attempt.apiEndpoint }),
    ...(args.contentType === undefined ? {} : { contentType: args.contentType }),
    ...(Object.keys(objectMetadata).length === 0 ? {} : { metadata: objectMetadata }),
    ...(args.ifGenerationMatch === undefined ? {} : { ifGenerationMatch: args.ifGenerationMatch }),
    ...(args.chunkSize === undefined ? {} : { chunkSize: args.chunkSize }),
    ...(args.parallelism === undefined ? {} : { parallelism: args.parallelism }),
    ...(args.partSize === undefined ? {} : { partSize: args.partSize }),
    ...(totalSize === undefined ? {} : { totalSize }),
    ...(Object.keys(attempt.extraHeaders).length === 0 ? {} : { extraHeaders: { ...attempt.extraHeaders } }),
    checksum: args.checksum,
    ...(attempt.checkpoint === undefined ? {} : { checkpoint: attempt.checkpoint }),
    ...(attempt.store === undefined ? {} : { checkpointStore: attempt.store }),
    ...(io.signal === undefined ? {} : { signal: io.signal }),
    // With --resume, Ctrl-C must leave something to resume; without it, leave nothing behind.
    onAbort: args.resume === undefined ? "cancel" : "keep",
  };
}

/**
 * The bytes that go to GCS, positioned at the saved offset, with that offset's prefix proven to be the
 * same data the session holds. A plain file seeks; stdin and gzip output are read through the prefix.
 */
async function positionedSource(args: CliArgs, io: CliIo, attempt: Attempt): Promise<{ stream: Readable; offset: number; crc: number }> {
  const { offset, crc32c: savedCrc } = attempt.checkpoint === undefined ? { offset: 0, crc32c: undefined } : savedPosition(attempt.checkpoint);
  const what = args.gzip ? `the gzip of ${args.source === "-" ? "stdin" : args.source}` : attempt.fromStdin ? "stdin" : args.source;
  if (offset > 0 && savedCrc === undefined) {
    throw new CliError(
      "invalid-checkpoint",
      `the state file records ${formatBytes(offset)} in GCS but no CRC32C (the upload used --checksum ${args.checksum === "crc32c" ? "md5 or none" : args.checksum}), so ${what} cannot be checked against it`,
      2,
    );
  }
  let stream: Readable;
  let prefix: { bytes: number; crc32c: number };
  if (!attempt.fromStdin && !args.gzip) {
    prefix = await crcOfFilePrefix(args.source, offset);
    stream = createReadStream(args.source, { start: offset });
  } else {
    const raw = attempt.fromStdin ? io.stdin : createReadStream(args.source);
    if (args.gzip) {
      // Node's gzip writes no timestamp, so the same input gives the same bytes: a resumed gzip upload
      // recompresses from the start and proves the part GCS holds by its CRC32C, like stdin.
      const gzip = createGzip();
      raw.on("error", (error: Error) => gzip.destroy(error));
      stream = raw.pipe(gzip);
    } else {
      stream = raw;
    }
    prefix = await consumePrefix(stream, offset);
  }
  if (offset > 0 && (prefix.bytes < offset || prefix.crc32c !== savedCrc! >>> 0)) {
    stream.destroy();
    const why = prefix.bytes < offset ? `ends after ${formatBytes(prefix.bytes)}` : "differs from them";
    throw new CliError(
      "source-mismatch",
      `the saved session holds ${formatBytes(offset)} (CRC32C ${crc32cBase64(savedCrc!)}) and ${what} ${why}; nothing was sent`,
      2,
    );
  }
  return { stream, offset, crc: prefix.crc32c };
}

async function uploadOnce(args: CliArgs, io: CliIo, say: (line: string) => void, attempt: Attempt): Promise<Outcome> {
  let source;
  try {
    source = await positionedSource(args, io, attempt);
  } catch (error) {
    return { kind: "error", error };
  }
  let upload;
  try {
    // STORAGE_EMULATOR_HOST comes from the CLI's own environment (tests pass their own).
    upload = createUploadStream(uploadOptions(args, io, attempt), { ...nodeRuntime, env: (name) => io.env[name] });
  } catch (error) {
    source.stream.destroy();
    // Refused before any request: the options (from the arguments) are bad input.
    const code = errorCode(error);
    return { kind: "error", error: new CliError(BAD_INPUT_CODES.has(code) ? code : "invalid-argument", errorMessage(error), 2, { cause: error }) };
  }
  const tap = new Tap(source.offset, source.crc);
  const mode = args.quiet || args.json ? "none" : io.isTTY ? "tty" : "plain";
  const total = args.gzip ? undefined : attempt.size;
  const progress: ProgressReporter = createProgressReporter({ stream: io.stderr, mode, total, startOffset: source.offset });
  if (source.offset > 0 && mode !== "none") progress.log(`gcs-upload: resuming at ${formatBytes(source.offset)} from ${args.resume}`);
  upload.on("progress", ({ bytesPersisted }: { bytesPersisted: number }) => progress.update(bytesPersisted));
  upload.on("retry", ({ attempt: n, delayMs, error }: UploadRetry) => {
    // One short line per retry; the message is redacted so the session URI never reaches a log.
    if (!args.quiet && !args.json) progress.log(`gcs-upload: retry ${n} in ${(delayMs / 1000).toFixed(1)}s: ${shortReason(errorMessage(error))}`);
  });

  const started = Date.now();
  let object: ObjectResource;
  let lateInterrupt = false;
  try {
    await pipeline(source.stream, tap, upload);
    object = await upload.done;
  } catch (error) {
    progress.stop();
    // Let the adapter finish its ending (an abort policy may still be saving the checkpoint) before the
    // caller touches the state file.
    const settled = await upload.done.then(
      (value) => value,
      () => undefined,
    );
    if (io.signal?.aborted !== true) {
      if (settled === undefined) return { kind: "error", error };
      // The object was complete before the source was read to its end (a saved session GCS had already
      // finalized): read the rest of the source for the local side of the check, then compare as usual.
      const verified = await finishLocalSide(args, attempt, tap);
      if (!verified) {
        return {
          kind: "done",
          exit: failLine(args, io, say, "checksum-unverifiable", `gs://${settled.bucket}/${settled.name} exists (${settled.size} bytes, crc32c ${settled.crc32c}), but the rest of the data could not be read again to check it`, "compare the object with your data before relying on it", EXIT.failed),
        };
      }
      await attempt.store?.clear();
      return { kind: "done", exit: report(args, io, say, settled, tap, Date.now() - started, false) };
    }
    // A Ctrl-C that raced the final request: if the object is complete, say so; it is in the bucket.
    const committed = settled;
    if (committed === undefined) {
      const saved = upload.checkpoint();
      let persisted = saved === undefined ? 0 : savedPosition(saved).offset;
      if (args.resume !== undefined && saved !== undefined && !isMultipartCheckpoint(saved)) {
        // The interrupt may have cut the answer to a final request GCS committed: ask the kept session
        // (one query, changing nothing) so what is said is what the bucket holds.
        const status = await sessionStatus({
          checkpoint: saved,
          env: io.env,
          ...(attempt.apiEndpoint === undefined ? {} : { apiEndpoint: attempt.apiEndpoint }),
          retries: 1,
          retryDelayMs: 200,
        }).catch(() => undefined);
        if (status?.kind === "final") {
          const object = status.object;
          if (tap.bytes < Number(object.size) && !(await finishLocalSide(args, attempt, tap))) {
            return {
              kind: "done",
              exit: failLine(args, io, say, "checksum-unverifiable", `interrupted, but gs://${object.bucket}/${object.name} was already complete (${object.size} bytes, crc32c ${object.crc32c}); the rest of the data cannot be read again to check it`, "compare the object with your data before relying on it", EXIT.failed),
            };
          }
          await attempt.store?.clear();
          return { kind: "done", exit: report(args, io, say, object, tap, Date.now() - started, true) };
        }
        if (status?.kind === "open") persisted = Math.max(persisted, status.heldBytes);
      }
      if (args.resume !== undefined && saved !== undefined) {
        return {
          kind: "done",
          exit: failLine(args, io, say, "interrupted", `upload stopped at ${formatBytes(persisted)} persisted; the ${wantsParallel(args) ? "multipart upload" : "session"} is kept in ${args.resume}`,
            attempt.fromStdin ? "pipe the same data again with the same --resume to continue (its first bytes are checked and skipped)" : "run the same command again to continue"),
        };
      }
      return { kind: "done", exit: failLine(args, io, say, "interrupted", "upload cancelled; nothing was written", "run again to upload") };
    }
    object = committed;
    lateInterrupt = true;
  }
  progress.stop();
  // An interrupt the adapter answered with the committed object (abort outcome `committed`) is still worth saying.
  if (io.signal?.aborted === true) lateInterrupt = true;
  // The adapter clears the store when done; clearing again is harmless and covers a session found final on resume.
  await attempt.store?.clear();
  return { kind: "done", exit: report(args, io, say, object, tap, Date.now() - started, lateInterrupt) };
}

function failLine(args: CliArgs, io: CliIo, say: (line: string) => void, code: string, message: string, advice: string, exit: number = EXIT.interrupted): number {
  if (args.json) io.stdout.write(`${JSON.stringify({ ok: false, code, message })}\n`);
  say(`gcs-upload: ${code}: ${message} — ${advice}`);
  return exit;
}

/**
 * Reads what the tap has not seen of a plain file source into its count and CRC32C. False when the source
 * cannot be read again (stdin, or gzip output whose stream is gone).
 */
async function finishLocalSide(args: CliArgs, attempt: Attempt, tap: Tap): Promise<boolean> {
  if (attempt.fromStdin || args.gzip) return false;
  for await (const chunk of createReadStream(args.source, { start: tap.bytes })) {
    tap.bytes += (chunk as Buffer).length;
    tap.crc = crc32c(chunk as Buffer, tap.crc);
  }
  return true;
}

/** The end of a successful upload: the object next to what was read, and the exit code that follows. */
function report(args: CliArgs, io: CliIo, say: (line: string) => void, object: ObjectResource, tap: Tap, elapsedMs: number, lateInterrupt: boolean): number {
  const localCrc = crc32cBase64(tap.crc);
  const remoteSize = Number(object.size);
  // GCS computes crc32c server-side from what it stored, so the check holds whatever --checksum said.
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
        ...(args.gzip ? { contentEncoding: "gzip" } : {}),
        ...(lateInterrupt ? { interruptedAfterCommit: true } : {}),
        ...(match ? {} : { code: "checksum-mismatch", message: "the stored object differs from the bytes read" }),
      })}\n`,
    );
  } else if (!args.quiet || lateInterrupt) {
    if (lateInterrupt) say("gcs-upload: interrupted, but too late: the object was already complete in the bucket");
    const where = args.local ? " (embedded emulator)" : "";
    const local = args.gzip ? "gzip" : "local";
    say(`gcs-upload: uploaded gs://${object.bucket ?? args.bucket}/${object.name ?? args.name}${where} generation ${object.generation} in ${(elapsedMs / 1000).toFixed(1)}s`);
    say(`  size    object ${String(remoteSize).padStart(12)}   ${local} ${String(tap.bytes).padStart(12)}   ${sizeMatch ? "MATCH" : "MISMATCH"}`);
    say(`  crc32c  object ${String(object.crc32c ?? "-").padStart(12)}   ${local} ${localCrc.padStart(12)}   ${crcMatch ? "MATCH" : "MISMATCH"}`);
  }
  if (!match) {
    if (!args.json) say("gcs-upload: checksum-mismatch: the stored object differs from the bytes read — upload again");
    return EXIT.failed;
  }
  return EXIT.ok;
}
