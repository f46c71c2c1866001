/**
 * Argument parsing for `gcs-upload`, on node:util's `parseArgs`: strict (an unknown flag is a usage
 * error, never silently ignored), and every check that can fail without I/O fails here, so a typo
 * costs exit code 2 before any session is opened.
 */
import { parseArgs } from "node:util";

/** 256 KiB: GCS accepts non-final chunks only in multiples of this. */
const CHUNK_GRANULARITY = 262_144;

/** A command line that cannot be run as given: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Everything `gcs-upload` was asked to do, validated. */
export interface CliArgs {
  /** What to do: upload, or print help or the version and stop. */
  readonly mode: "upload" | "help" | "version";
  /** A file path, or `-` for stdin. */
  readonly source: string;
  /** Destination bucket. */
  readonly bucket: string;
  /** Destination object name. */
  readonly name: string;
  /** Bytes per request, a multiple of 256 KiB; `undefined` keeps the library's default (8 MiB). */
  readonly chunkSize: number | undefined;
  /** Object content type. */
  readonly contentType: string | undefined;
  /** Custom metadata from repeated `--metadata k=v`. */
  readonly metadata: Readonly<Record<string, string>>;
  /** `--if-generation-match`, as the decimal string GCS uses for int64. */
  readonly ifGenerationMatch: string | undefined;
  /** End-to-end checksums. */
  readonly checksum: "crc32c" | "md5" | "both" | "none";
  /** Checkpoint file for `--resume`. */
  readonly resume: string | undefined;
  /** `--endpoint`. */
  readonly endpoint: string | undefined;
  /** Upload into an embedded emulator instead of GCS. */
  readonly local: boolean;
  /** Fault instructions for the embedded emulator (testing and the demo). */
  readonly localFaults: readonly string[];
  /** Latency of the embedded emulator, ms. */
  readonly localLatencyMs: number;
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

/** Parses `gs://BUCKET/OBJECT`. @throws {@link UsageError} */
export function parseGsUrl(text: string): { bucket: string; name: string } {
  const match = /^gs:\/\/([^/]+)\/(.+)$/.exec(text);
  if (match === null) throw new UsageError(`destination must look like gs://BUCKET/OBJECT, got ${JSON.stringify(text)}`);
  return { bucket: match[1]!, name: match[2]! };
}

const OPTIONS = {
  "chunk-size": { type: "string" },
  "content-type": { type: "string" },
  metadata: { type: "string", multiple: true },
  "if-generation-match": { type: "string" },
  checksum: { type: "string" },
  resume: { type: "string" },
  endpoint: { type: "string" },
  local: { type: "boolean" },
  "local-faults": { type: "string" },
  "local-latency-ms": { type: "string" },
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
    contentType: undefined,
    metadata: {},
    ifGenerationMatch: undefined,
    checksum: "crc32c" as const,
    resume: undefined,
    endpoint: undefined,
    local: false,
    localFaults: [],
    localLatencyMs: 0,
    quiet: false,
    json: false,
  };
  if (values.help === true) return { ...empty, mode: "help" };
  if (values.version === true) return { ...empty, mode: "version" };

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

  const metadata: Record<string, string> = {};
  for (const pair of values.metadata ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--metadata takes KEY=VALUE, got ${JSON.stringify(pair)}`);
    metadata[pair.slice(0, eq)] = pair.slice(eq + 1);
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

  return {
    mode: "upload",
    source,
    bucket,
    name,
    chunkSize,
    contentType: values["content-type"],
    metadata,
    ifGenerationMatch,
    checksum: checksum as CliArgs["checksum"],
    resume: values.resume,
    endpoint: values.endpoint,
    local,
    localFaults,
    localLatencyMs,
    quiet: values.quiet === true,
    json: values.json === true,
  };
}

/** The `--help` text. */
export const HELP = `Usage: gcs-upload [options] <FILE|-> gs://BUCKET/OBJECT

Stream a file or stdin into a Google Cloud Storage object over the resumable-upload
protocol: constant memory, retries with backoff, end-to-end CRC32C check.

Options:
  --chunk-size SIZE           bytes per request, a multiple of 256KiB (default 8MiB)
  --content-type TYPE         the object's Content-Type
  --metadata KEY=VALUE        custom metadata (repeatable)
  --if-generation-match N     only write if the live generation is N (0: only if absent)
  --checksum MODE             crc32c (default), md5, both or none
  --resume STATE_FILE         save the session there; rerun with the same file to continue
  --endpoint URL              API endpoint (default: $STORAGE_EMULATOR_HOST, else GCS)
  --local                     upload into an embedded in-memory emulator (no credentials)
  -q, --quiet                 no progress and no summary
  --json                      print one JSON result line on stdout at the end
  -h, --help                  show this help
  -V, --version               show the version

Examples:
  some-command | gcs-upload - gs://my-bucket/logs/build.txt
  gcs-upload --resume backup.state backup.tar gs://my-bucket/backups/backup.tar
  gcs-upload --chunk-size 32MiB --content-type application/gzip data.gz gs://b/data.gz
  echo hello | gcs-upload --local - gs://scratch/hello.txt

Credentials: Application Default Credentials (gcloud auth application-default login,
GOOGLE_APPLICATION_CREDENTIALS, or the metadata server); none against an emulator.

Exit codes:
  0    the object is written and its checksum matches
  1    the upload failed (network, permissions, precondition, checksum mismatch)
  2    usage error (bad option or argument)
  130  interrupted (Ctrl-C): the session is cancelled, or kept resumable with --resume
`;
