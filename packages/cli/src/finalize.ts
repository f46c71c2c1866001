/**
 * `gcs-upload --finalize STATE`: salvage what a dead upload left in GCS. The session already holds some
 * bytes (a CI job streaming its log died mid-way); one status query learns how many, and one empty
 * `PUT` with `Content-Range: bytes *\/N` commits exactly those N bytes as the object. Both requests are
 * idempotent (a repeated commit of a final session answers the object), so transient failures are retried.
 *
 * The upload layer has no function for this (yet), so it lives here, on the Node adapter's own transport:
 * two requests need no engine, and the session URI is a capability that carries no credentials.
 */
import { parseCheckpoint, resolveEndpoint, UploadError, type ObjectResource } from "@resumable-gcs/core";
import { createHttpTransport } from "@resumable-gcs/node";
import { crc32cBase64 } from "./crc.js";

/** A failure of the CLI with the code it is reported with and the exit status it maps to. */
export class CliError extends Error {
  /** The stable code printed as `gcs-upload: <code>: ...` and in the `--json` line. */
  readonly code: string;
  /** The process exit status: 2 for bad input (nothing sent), 1 otherwise. */
  readonly exitCode: 1 | 2;
  constructor(code: string, message: string, exitCode: 1 | 2, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CliError";
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** What `finalizeSession` needs. */
export interface FinalizeOptions {
  /** The saved checkpoint (JSON of a `--resume` state file or a checkpoint store). */
  readonly checkpoint: unknown;
  /** The API endpoint the session must belong to; `STORAGE_EMULATOR_HOST`, else GCS, when omitted. */
  readonly apiEndpoint?: string;
  /** Environment for `STORAGE_EMULATOR_HOST`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Stops waiting and retrying. */
  readonly signal?: AbortSignal;
  /** Retries of a transient failure (network, 408, 429, 5xx) per request; default 4. */
  readonly retries?: number;
  /** First retry delay in ms, doubled each time; default 500. */
  readonly retryDelayMs?: number;
}

/** What `finalizeSession` committed. */
export interface FinalizeResult {
  /** The object resource GCS answered with. */
  readonly object: ObjectResource;
  /** Bytes the session held, now the object's size. */
  readonly committedBytes: number;
  /** True when the session was already final (an earlier commit or upload finished it). */
  readonly alreadyFinal: boolean;
  /** `match`/`mismatch` against the checkpoint's CRC32C, or `unchecked` when it cannot cover the committed bytes. */
  readonly crc32c: "match" | "mismatch" | "unchecked";
}

const TRANSIENT = new Set([408, 429, 500, 502, 503, 504]);

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(signal.reason as Error);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    }, { once: true });
  });
}

function parseObject(body: string): ObjectResource {
  try {
    const value = JSON.parse(body) as unknown;
    if (typeof value === "object" && value !== null && typeof (value as ObjectResource).size === "string") return value as ObjectResource;
  } catch {
    // fall through: a cut or foreign body is reported below
  }
  throw new CliError("protocol-violation", "GCS answered the commit with a body that is not an object resource", 1);
}

/**
 * Commits the bytes a saved session holds as the object and returns what was committed.
 *
 * @throws {@link CliError} `invalid-checkpoint` / `untrusted-session-uri` (exit 2, nothing sent),
 *   `session-expired` (the session is gone), `failed` (GCS refused), `retries-exhausted`.
 *
 * @example
 * ```ts
 * const { object, committedBytes } = await finalizeSession({ checkpoint: JSON.parse(await readFile("log.state", "utf8")) });
 * ```
 */
export async function finalizeSession(options: FinalizeOptions): Promise<FinalizeResult> {
  return withSession(options, async ({ put, refused, savedOffset, savedCrc32c }) => {
    const status = await put("bytes */*");
    let object: ObjectResource;
    let alreadyFinal = false;
    let held: number;
    if (status.status === 200 || status.status === 201) {
      object = parseObject(status.body);
      alreadyFinal = true;
      held = Number(object.size);
    } else if (status.status === 308) {
      held = heldBytes(status.headers);
      const committed = await put(`bytes */${held}`);
      if (committed.status !== 200 && committed.status !== 201) throw refused(committed, "the commit");
      object = parseObject(committed.body);
    } else {
      throw refused(status, "the status query");
    }
    const committedBytes = Number(object.size);
    if (committedBytes !== held) {
      throw new CliError("protocol-violation", `GCS held ${held} bytes but committed an object of ${committedBytes}`, 1);
    }
    // The checkpoint's CRC32C covers exactly its offset: it proves the object only when GCS held no more.
    const crc32c =
      savedCrc32c === undefined || committedBytes !== savedOffset || object.crc32c === undefined
        ? "unchecked"
        : object.crc32c === crc32cBase64(savedCrc32c)
          ? "match"
          : "mismatch";
    return { object, committedBytes, alreadyFinal, crc32c };
  });
}

/** What a saved session holds, from one status query: the final object, or how many bytes. */
export type SessionStatus = { readonly kind: "final"; readonly object: ObjectResource } | { readonly kind: "open"; readonly heldBytes: number };

/**
 * Asks a saved session where it stands, changing nothing: after an interrupt that kept the session, this says
 * truthfully whether the object was already complete (the last request committed it) or how much GCS holds.
 *
 * @throws {@link CliError} as {@link finalizeSession} does.
 */
export async function sessionStatus(options: FinalizeOptions): Promise<SessionStatus> {
  return withSession(options, async ({ put, refused }) => {
    const status = await put("bytes */*");
    if (status.status === 200 || status.status === 201) return { kind: "final", object: parseObject(status.body) };
    if (status.status === 308) return { kind: "open", heldBytes: heldBytes(status.headers) };
    throw refused(status, "the status query");
  });
}

/** A 308's `Range: bytes=0-LAST` as a byte count; no Range header means the session holds nothing. */
function heldBytes(headers: Readonly<Record<string, string>>): number {
  const range = /^bytes=0-(\d+)$/.exec(headers["range"] ?? "");
  return range === null ? 0 : Number(range[1]) + 1;
}

type Response = { status: number; headers: Record<string, string>; body: string };
interface SessionAccess {
  readonly put: (contentRange: string) => Promise<Response>;
  readonly refused: (response: { status: number; body: string }, what: string) => CliError;
  readonly savedOffset: number;
  readonly savedCrc32c: number | undefined;
}

/** Checks the checkpoint and its origin (nothing sent on a refusal), then runs `work` with an empty-PUT sender. */
async function withSession<T>(options: FinalizeOptions, work: (access: SessionAccess) => Promise<T>): Promise<T> {
  let checkpoint;
  try {
    checkpoint = parseCheckpoint(options.checkpoint);
  } catch (error) {
    throw new CliError("invalid-checkpoint", (error as Error).message, 2, { cause: error });
  }
  // Versions 1 and 2 of the checkpoint name the offset differently; both mean "GCS holds at least this".
  const saved = checkpoint as { resumeOffset?: number; persisted?: number; crc32c?: number; sessionUri: string };
  const savedOffset = saved.resumeOffset ?? saved.persisted ?? 0;
  let endpoint;
  try {
    const env = options.env;
    endpoint = resolveEndpoint({ ...(options.apiEndpoint === undefined ? {} : { apiEndpoint: options.apiEndpoint }), ...(env === undefined ? {} : { env: (name: string) => env[name] }) });
  } catch (error) {
    throw new CliError("invalid-argument", (error as Error).message, 2, { cause: error });
  }
  const sessionOrigin = URL.canParse(saved.sessionUri) ? new URL(saved.sessionUri).origin : undefined;
  if (sessionOrigin !== new URL(endpoint.url).origin) {
    throw new CliError(
      "untrusted-session-uri",
      `the state file's session is not on the endpoint ${new URL(endpoint.url).origin}; pass the endpoint it was started on with --endpoint`,
      2,
    );
  }

  const transport = createHttpTransport({});
  const controller = new AbortController();
  const stop = (): void => controller.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", stop, { once: true });
  const retries = options.retries ?? 4;
  const firstDelay = options.retryDelayMs ?? 500;

  async function put(contentRange: string): Promise<Response> {
    for (let attempt = 0; ; attempt += 1) {
      // Built as a value, not a literal: the same object serves transports of either contract version.
      const sendOptions = { signal: controller.signal, credentials: false, maxResponseBytes: 1024 * 1024 };
      let failure: string;
      try {
        const response = await transport.send(
          { method: "PUT", url: saved.sessionUri, headers: { "content-length": "0", "content-range": contentRange }, body: [], bodyLength: 0 },
          sendOptions,
        );
        if (!TRANSIENT.has(response.status)) return response;
        failure = `HTTP ${response.status}`;
      } catch (error) {
        if (controller.signal.aborted) throw error;
        failure = (error as Error).message;
      }
      if (attempt >= retries) throw new CliError("retries-exhausted", `the session did not answer after ${attempt + 1} attempts (last: ${failure})`, 1);
      await sleep(firstDelay * 2 ** attempt, controller.signal);
    }
  }

  function refused(response: { status: number; body: string }, what: string): CliError {
    if (response.status === 404 || response.status === 410) {
      return new CliError("session-expired", `the saved session is gone (HTTP ${response.status}): GCS no longer holds its bytes`, 1);
    }
    const reason = response.body.trim().slice(0, 200);
    return new CliError("failed", `${what} answered HTTP ${response.status}${reason === "" ? "" : `: ${reason}`}`, 1);
  }

  try {
    return await work({ put, refused, savedOffset, savedCrc32c: saved.crc32c });
  } catch (error) {
    if (error instanceof CliError || error instanceof UploadError) throw error;
    if (controller.signal.aborted) throw new CliError("interrupted", "stopped before GCS answered; the session is unchanged", 1, { cause: error });
    throw new CliError("failed", (error as Error).message, 1, { cause: error });
  } finally {
    options.signal?.removeEventListener("abort", stop);
    (transport as { close?: () => void }).close?.();
  }
}
