/**
 * Argument parsing for `gcs-upload`, on node:util's `parseArgs`: strict (an unknown flag is a usage
 * error, never silently ignored), and every check that can fail without I/O fails here, so a typo
 * costs exit code 2 before any session is opened.
 */
import { parseArgs } from "node:util";
// One home for GCS's naming rules: core's, the same ones every adapter applies.
import { bucketNameProblem, objectNameProblem } from "@resumable-gcs/core";

/** 256 KiB: GCS accepts non-final chunks only in multiples of this. */
const CHUNK_GRANULARITY = 262_144;

/** The XML multipart upload's limits (core's, restated for messages that name the flag). */
const MIN_PART = 5 * 1024 * 1024;
const MAX_PART = 5 * 1024 * 1024 * 1024;
const MAX_PARALLEL = 32;

/**
 * A command line that cannot be run as given: reported as code `invalid-argument`, exit code 2, before
 * anything is sent.
 */
export class UsageError extends Error {
  /** The one code every bad argument is reported with. */
  readonly code = "invalid-argument" as const;
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Everything `gcs-upload` was asked to do, validated. */
export interface CliArgs {
  /** What to do: upload, commit what a saved session holds (`--finalize`), or print help or the version. */
  readonly mode: "upload" | "finalize" | "help" | "version";
  /** A file path, or `-` for stdin. */
  readonly source: string;
  /** Destination bucket. */
  readonly bucket: string;
  /** Destination object name. */
  readonly name: string;
  /** Bytes per request, a multiple of 256 KiB; `undefined` keeps the library's default (8 MiB). */
  readonly chunkSize: number | undefined;
  /** `--parallel N`: parts in flight of an XML multipart upload (1–32); `undefined` for a resumable session. */
  readonly parallelism: number | undefined;
  /** `--part-size SIZE`: the multipart upload's part size (5 MiB–5 GiB); `undefined` keeps the library's 16 MiB. */
  readonly partSize: number | undefined;
  /** Object content type. */
  readonly contentType: string | undefined;
  /** Custom metadata from repeated `--metadata k=v`. */
  readonly metadata: Readonly<Record<string, string>>;
  /** `--if-generation-match`, as the decimal string GCS uses for int64. */
  readonly ifGenerationMatch: string | undefined;
  /** End-to-end checksums. */
  readonly checksum: "crc32c" | "md5" | "both" | "none";
  /** Checkpoint file for `--resume` (or the one `--finalize` commits). */
  readonly resume: string | undefined;
  /** Compress on the fly: the object holds gzip bytes and gets `contentEncoding: gzip`. */
  readonly gzip: boolean;
  /** `--endpoint`. */
  readonly endpoint: string | undefined;
  /** Upload into an embedded emulator instead of GCS. */
  readonly local: boolean;
  /** Fault instructions for the embedded emulator (testing and the demo). */
  readonly localFaults: readonly string[];
  /** Latency of the embedded emulator, ms. */
  readonly localLatencyMs: number;
  /** Extra request headers from repeated `--header NAME:VALUE` (e.g. an emulator's `x-retry-test-id`). */
  readonly headers: Readonly<Record<string, string>>;
  /** No progress, no summary. */
  readonly quiet: boolean;
  /** One JSON line on stdout at the end. */
  readonly json: boolean;
}

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1000,
  kb: 1000,
  kib: 1024,
  m: 1000 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/**
 * Parses a byte size such as `8MiB`, `256KiB`, `1048576` or `16 MB`.
 *
 * @throws {@link UsageError} for anything else.
 */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match?.[2]?.toLowerCase() ?? "";
  const factor = UNITS[unit];
  if (match === null || factor === undefined) {
    throw new UsageError(`cannot read ${JSON.stringify(text)} as a size; write it like 8MiB, 256KiB or 1048576`);
  }
  const bytes = Number(match[1]) * factor;
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`size ${JSON.stringify(text)} is not a whole number of bytes`);
  return bytes;
}

/** Parses `gs://BUCKET/OBJECT` and checks both names against GCS's rules. @throws {@link UsageError} */
export function parseGsUrl(text: string): { bucket: string; name: string } {
  const match = /^gs:\/\/([^/]+)\/(.+)$/s.exec(text);
  if (match === null) throw new UsageError(`destination must look like gs://BUCKET/OBJECT, got ${JSON.stringify(text)}`);
  const [bucket, name] = [match[1]!, match[2]!];
  const bucketProblem = bucketNameProblem(bucket);
  if (bucketProblem !== undefined) throw new UsageError(`invalid bucket ${JSON.stringify(bucket)}: ${bucketProblem}`);
  const nameProblem = objectNameProblem(name);
  if (nameProblem !== undefined) throw new UsageError(`invalid object name ${JSON.stringify(name)}: ${nameProblem}`);
  return { bucket, name };
}

/** Checks an `--endpoint` value: an absolute http(s) URL. @throws {@link UsageError} */
function parseEndpoint(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--endpoint must be an absolute URL such as https://storage.googleapis.com, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`--endpoint must be http or https, got ${url.protocol}`);
  return text;
}

const OPTIONS = {
  "chunk-size": { type: "string" },
  parallel: { type: "string" },
  "part-size": { type: "string" },
  "content-type": { type: "string" },
  metadata: { type: "string", multiple: true },
  "if-generation-match": { type: "string" },
  checksum: { type: "string" },
  resume: { type: "string" },
  finalize: { type: "string" },
  gzip: { type: "boolean" },
  endpoint: { type: "string" },
  local: { type: "boolean" },
  "local-faults": { type: "string" },
  "local-latency-ms": { type: "string" },
  header: { type: "string", multiple: true },
  quiet: { type: "boolean", short: "q" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

const CHECKSUMS = ["crc32c", "md5", "both", "none"] as const;

/**
 * Validates a command line (without the node and script names).
 *
 * @throws {@link UsageError} with a message that says what to write instead.
 */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    // parseArgs' messages are good but long-winded about "--"; keep the first sentence.
    throw new UsageError((error as Error).message.split(". ")[0] ?? String(error));
  }
  const { values, positionals } = parsed;
  const empty = {
    source: "",
    bucket: "",
    name: "",
    chunkSize: undefined,
    parallelism: undefined,
    partSize: undefined,
    contentType: undefined,
    metadata: {},
    ifGenerationMatch: undefined,
    checksum: "crc32c" as const,
    resume: undefined,
    gzip: false,
    endpoint: undefined,
    local: false,
    localFaults: [],
    localLatencyMs: 0,
    headers: {},
    quiet: false,
    json: false,
  };
  if (values.help === true) return { ...empty, mode: "help" };
  if (values.version === true) return { ...empty, mode: "version" };

  if (values.finalize !== undefined) {
    // Everything else about the upload is in the state file; other flags would be silently ignored.
    const extra = Object.keys(values).filter((key) => !["finalize", "endpoint", "quiet", "json"].includes(key));
    if (positionals.length > 0 || extra.length > 0) {
      throw new UsageError(`--finalize STATE_FILE takes no source or destination and only --endpoint, --quiet, --json; got ${[...positionals, ...extra.map((k) => `--${k}`)].join(" ")}`);
    }
    if (values.finalize === "") throw new UsageError("--finalize needs the state file of the session to commit");
    return {
      ...empty,
      mode: "finalize",
      resume: values.finalize,
      endpoint: values.endpoint === undefined ? undefined : parseEndpoint(values.endpoint),
      quiet: values.quiet === true,
      json: values.json === true,
    };
  }

  if (positionals.length !== 2) {
    throw new UsageError(
      positionals.length < 2 ? "expected a source (FILE or -) and a destination gs://BUCKET/OBJECT" : `too many arguments: ${positionals.slice(2).join(" ")}`,
    );
  }
  const [source, destination] = positionals as [string, string];
  const { bucket, name } = parseGsUrl(destination);

  let chunkSize: number | undefined;
  if (values["chunk-size"] !== undefined) {
    chunkSize = parseSize(values["chunk-size"]);
    if (chunkSize === 0 || chunkSize % CHUNK_GRANULARITY !== 0) {
      throw new UsageError(
        `--chunk-size must be a positive multiple of 256KiB (262144 bytes), got ${chunkSize}; try ${Math.max(1, Math.round(chunkSize / CHUNK_GRANULARITY)) * 256}KiB`,
      );
    }
  }

  let parallelism: number | undefined;
  if (values.parallel !== undefined) {
    parallelism = Number(values.parallel);
    if (!/^\d+$/.test(values.parallel) || parallelism < 1 || parallelism > MAX_PARALLEL) {
      throw new UsageError(`--parallel takes the number of parts in flight, a whole number from 1 to ${MAX_PARALLEL}, got ${JSON.stringify(values.parallel)}`);
    }
  }
  let partSize: number | undefined;
  if (values["part-size"] !== undefined) {
    partSize = parseSize(values["part-size"]);
    if (partSize < MIN_PART || partSize > MAX_PART) throw new UsageError(`--part-size must be from 5MiB to 5GiB (GCS's part limits), got ${partSize} bytes`);
  }
  if ((parallelism !== undefined || partSize !== undefined) && chunkSize !== undefined) {
    throw new UsageError("--chunk-size is for a resumable session; a parallel upload (--parallel/--part-size) cuts parts of --part-size instead");
  }

  const metadata: Record<string, string> = {};
  for (const pair of values.metadata ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--metadata takes KEY=VALUE, got ${JSON.stringify(pair)}`);
    metadata[pair.slice(0, eq)] = pair.slice(eq + 1);
  }

  const headers: Record<string, string> = {};
  for (const pair of values.header ?? []) {
    const colon = pair.indexOf(":");
    const name = colon <= 0 ? "" : pair.slice(0, colon).trim().toLowerCase();
    if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) throw new UsageError(`--header takes NAME:VALUE, got ${JSON.stringify(pair)}`);
    headers[name] = pair.slice(colon + 1).trim();
  }

  const ifGenerationMatch = values["if-generation-match"];
  if (ifGenerationMatch !== undefined && !/^\d+$/.test(ifGenerationMatch)) {
    throw new UsageError(`--if-generation-match takes a generation number (0: only if the object does not exist), got ${JSON.stringify(ifGenerationMatch)}`);
  }

  const checksum = values.checksum ?? "crc32c";
  if (!(CHECKSUMS as readonly string[]).includes(checksum)) {
    throw new UsageError(`--checksum must be one of ${CHECKSUMS.join(", ")}, got ${JSON.stringify(checksum)}`);
  }

  const local = values.local === true;
  const localFaults = (values["local-faults"] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (localFaults.length > 0 && !local) throw new UsageError("--local-faults needs --local");
  const latencyText = values["local-latency-ms"] ?? "0";
  const localLatencyMs = Number(latencyText);
  if (!Number.isInteger(localLatencyMs) || localLatencyMs < 0) throw new UsageError(`--local-latency-ms takes a whole number, got ${JSON.stringify(latencyText)}`);
  if (local && values.endpoint !== undefined) throw new UsageError("--local and --endpoint exclude each other");
  if (values.resume === "") throw new UsageError("--resume needs a state file path");

  return {
    mode: "upload",
    source,
    bucket,
    name,
    chunkSize,
    parallelism,
    partSize,
    contentType: values["content-type"],
    metadata,
    ifGenerationMatch,
    checksum: checksum as CliArgs["checksum"],
    resume: values.resume,
    gzip: values.gzip === true,
    endpoint: values.endpoint === undefined ? undefined : parseEndpoint(values.endpoint),
    local,
    localFaults,
    localLatencyMs,
    headers,
    quiet: values.quiet === true,
    json: values.json === true,
  };
}

/** The `--help` text. */
export const HELP = `Usage: gcs-upload [options] <FILE|-> gs://BUCKET/OBJECT
       gcs-upload --finalize STATE_FILE

Stream a file or stdin into a Google Cloud Storage object over the resumable-upload
protocol (or, with --parallel, the XML API multipart upload): constant memory, retries
with backoff, end-to-end CRC32C check.

Options:
  --chunk-size SIZE           bytes per request, a multiple of 256KiB (default 8MiB)
  --parallel N                send N parts at once (1-32) as an XML API multipart upload instead of
                              one chunk after another: faster over long round trips; memory is about
                              (N + 1) x the part size; each part is retried alone
  --part-size SIZE            part size of a parallel upload, 5MiB to 5GiB (default 16MiB); alone it
                              means --parallel 4
  --content-type TYPE         the object's Content-Type
  --metadata KEY=VALUE        custom metadata (repeatable)
  --if-generation-match N     only write if the live generation is N (0: only if absent)
  --checksum MODE             crc32c (default), md5, both or none
  --resume STATE_FILE         save the session there; rerun with the same file to continue
                              (a file is reopened at the saved offset; stdin: pipe the same data again,
                              its first bytes are checked against the saved CRC32C and skipped)
                              (with --parallel the state file holds the multipart upload: rerun
                              with the same --parallel/--part-size to continue it)
  --finalize STATE_FILE       commit the bytes the saved session already holds as the object, and stop
                              (a resumable session only, not a parallel upload)
  --gzip                      compress on the fly; the object gets Content-Encoding: gzip
  --endpoint URL              API endpoint (default: $STORAGE_EMULATOR_HOST, else GCS)
  --local                     upload into an embedded in-memory emulator (no credentials)
  --header NAME:VALUE         extra header on every request (repeatable; e.g. an emulator's
                              x-retry-test-id); headers the protocol owns are refused
  -q, --quiet                 no progress and no summary
  --json                      print one JSON result line on stdout at the end
  -h, --help                  show this help
  -V, --version               show the version

Examples:
  some-command | gcs-upload - gs://my-bucket/logs/build.txt
  gcs-upload --resume backup.state backup.tar gs://my-bucket/backups/backup.tar
  gcs-upload --chunk-size 32MiB --content-type application/gzip data.gz gs://b/data.gz
  gcs-upload --parallel 8 --part-size 32MiB --resume big.state big.iso gs://my-bucket/big.iso
  echo hello | gcs-upload --local - gs://scratch/hello.txt
  make 2>&1 | gcs-upload --gzip --resume log.state - gs://my-bucket/logs/build.txt.gz
  gcs-upload --finalize log.state     # the job died: keep what GCS already holds

Credentials: Application Default Credentials (gcloud auth application-default login,
GOOGLE_APPLICATION_CREDENTIALS, or the metadata server); none against an emulator.

Errors are one line on stderr: gcs-upload: CODE: MESSAGE — WHAT TO DO (with --json, also on stdout).

Exit codes:
  0    the object is written and its checksum matches (also when a Ctrl-C came too late:
       the object was already complete, and the message says so)
  1    the upload failed (network, permissions, precondition, checksum mismatch, session gone)
  2    bad input, nothing sent: invalid-argument (option, argument, path, bucket or object name),
       invalid-checkpoint (the state file is not a usable checkpoint), source-mismatch (the data
       given to --resume is not what the saved session holds)
  130  interrupted (Ctrl-C): the session is cancelled, or kept resumable with --resume
`;
