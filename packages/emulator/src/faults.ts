/**
 * Fault injection in the vocabulary of Google's storage-testbench "retry tests" (docs/protocol.md#fault-vocabulary), plus
 * `return-short-ack-<N>K`, `return-truncated-body-final-chunk-after-<N>B` and request-kind filters of our own.
 *
 * Rules:
 * - A retry test maps a method name (`storage.objects.insert`, ...) to a list of instructions. A request
 *   carrying `x-retry-test-id` whose method matches looks at the FIRST instruction of that method's list
 *   only; requests of other methods look at nothing. So a list is a script, played in order, and always
 *   yields the same behaviour, request by request: that is the determinism guarantee.
 * - An instruction may name the request it is for: `kind:instruction` (`start:return-503`) or
 *   `kind#N:instruction` (`chunk#2:return-reset-connection`, the 2nd chunk request). While such an
 *   instruction heads its list, requests that do not match pass through untouched and leave it in place;
 *   the matching request consumes it. `N` counts the requests of that kind sent with this retry test's id
 *   since it was registered (every one counts, whether it consumed an instruction or not), starting at 1.
 * - The final-chunk instructions (`return-broken-stream-final-chunk-after-<N>B`,
 *   `return-truncated-body-final-chunk-after-<N>B`) act only on a request that ends an upload, so without a
 *   kind they behave as if written `final:`.
 * - `<N>K` is N KiB (N x 1024 bytes): of the request body as sent for triggers (reset-after, stall), of
 *   the request's new bytes for what is kept (status-after, short-ack); `<N>B` is N bytes of the response body.
 */

/**
 * The kinds of request an instruction can be aimed at. Every kind belongs to `storage.objects.insert`.
 * A request may be of several kinds at once: a chunk that ends the upload is both `chunk` and `final`,
 * and each upload method's specific kind also counts as its generic one, so a script written with the
 * generic kinds plays out whichever method the client picks.
 */
export const REQUEST_KINDS = [
  /** Starting an upload: a resumable session start (JSON `uploadType=resumable`, XML `x-goog-resumable: start`) or `mp-initiate`. */
  "start",
  /** A request that carries object bytes: a `PUT` to a session (final or not), `mp-part`, `single`. */
  "chunk",
  /** Asking where an upload stands: `bytes *\/*`, `bytes *\/N` that does not end the upload, or `mp-list`. */
  "query",
  /** A request that ends an upload: the chunk reaching the total, `bytes *\/N` at the persisted offset, an open end, `single`, `mp-complete`. */
  "final",
  /** Cancelling: `DELETE` of a resumable session, or `mp-abort`. */
  "delete",
  /** A one-request upload: `uploadType=multipart` or `uploadType=media` (also `chunk` and `final`). */
  "single",
  /** XML multipart upload: `POST ?uploads` (also `start`). */
  "mp-initiate",
  /** XML multipart upload: `PUT ?partNumber=N&uploadId=...` (also `chunk`). */
  "mp-part",
  /** XML multipart upload: `POST ?uploadId=...` (also `final`). */
  "mp-complete",
  /** XML multipart upload: `DELETE ?uploadId=...` (also `delete`). */
  "mp-abort",
  /** XML multipart upload: `GET ?uploadId=...` (also `query`). */
  "mp-list",
] as const;

/** One of {@link REQUEST_KINDS}. */
export type RequestKind = (typeof REQUEST_KINDS)[number];

/** The method every request kind belongs to. */
export const KIND_METHOD = "storage.objects.insert";

/** What a request is, for matching instructions: its retry-test method, its kinds, and whether it ends an upload. */
export interface RequestDescriptor {
  readonly method: string;
  readonly kinds: readonly RequestKind[];
  /** True for a request that would end an upload (final chunk, `single`, `mp-complete`). */
  readonly endsUpload: boolean;
}

/** The instruction forms, as shown in the 400 answer to an unknown instruction. */
export const FAULT_VOCABULARY: readonly string[] = [
  "return-NNN (NNN a 4xx/5xx status, e.g. return-503)",
  "return-NNN-after-NK (e.g. return-503-after-256K)",
  "return-reset-connection",
  "return-reset-connection-after-NK",
  "stall-for-Ts-after-NK / stall-for-Nms-after-NK",
  "return-broken-stream",
  "return-broken-stream-after-NK",
  "return-broken-stream-final-chunk-after-NB (or -NK): commit, then cut the connection mid-body",
  "return-truncated-body-final-chunk-after-NB (or -NK): commit, then a complete response whose body is cut to N bytes",
  "return-short-ack-NK",
  `any of them prefixed with KIND: or KIND#N: where KIND is one of ${REQUEST_KINDS.join(", ")}`,
];

/** What one instruction makes the server do, parsed from its text. */
export type Fault =
  /** Answer this status with a JSON error; persist nothing from the request. */
  | { readonly kind: "status"; readonly status: number }
  /** Read the body, persist up to `afterBytes` of its new bytes (256 KiB-aligned), answer `status`. */
  | { readonly kind: "status-after"; readonly status: number; readonly afterBytes: number }
  /** Reset the connection at once, without a response; persist nothing. */
  | { readonly kind: "reset" }
  /** Read `afterBytes` of the body, persist them (256 KiB-aligned), then reset the connection. */
  | { readonly kind: "reset-after"; readonly afterBytes: number }
  /** Stop reading for `stallMs` once `afterBytes` of the body arrived, then carry on normally. */
  | { readonly kind: "stall"; readonly stallMs: number; readonly afterBytes: number }
  /** Process the request, then send the headers and half of the response body, then close. */
  | { readonly kind: "broken-stream" }
  /** Process the request, then send the headers and `afterBytes` of the response body, then close. */
  | { readonly kind: "broken-stream-after"; readonly afterBytes: number }
  /** On the request that ends an upload: commit the object, send headers and `afterBytes` of the body, close. */
  | { readonly kind: "broken-final"; readonly afterBytes: number }
  /**
   * On the request that ends an upload: commit the object, then send a complete response whose body is
   * only its first `afterBytes` bytes, with a `Content-Length` that matches the cut body.
   */
  | { readonly kind: "truncated-final"; readonly afterBytes: number }
  /** Persist only `bytes` of the body's new bytes (256 KiB-aligned) and answer 308 with that `Range`. */
  | { readonly kind: "short-ack"; readonly bytes: number };

const KIB = 1024;

const GRAMMAR: readonly { pattern: RegExp; build: (m: RegExpExecArray) => Fault | undefined }[] = [
  { pattern: /^return-(\d{3})$/, build: (m) => withStatus(m[1], (status) => ({ kind: "status", status })) },
  {
    pattern: /^return-(\d{3})-after-(\d+)K$/,
    build: (m) => withStatus(m[1], (status) => ({ kind: "status-after", status, afterBytes: kib(m[2]) })),
  },
  { pattern: /^return-reset-connection$/, build: () => ({ kind: "reset" }) },
  { pattern: /^return-reset-connection-after-(\d+)K$/, build: (m) => ({ kind: "reset-after", afterBytes: kib(m[1]) }) },
  {
    pattern: /^stall-for-(\d+)(s|ms)-after-(\d+)K$/,
    build: (m) => ({ kind: "stall", stallMs: Number(m[1]) * (m[2] === "s" ? 1000 : 1), afterBytes: kib(m[3]) }),
  },
  { pattern: /^return-broken-stream$/, build: () => ({ kind: "broken-stream" }) },
  { pattern: /^return-broken-stream-after-(\d+)K$/, build: (m) => ({ kind: "broken-stream-after", afterBytes: kib(m[1]) }) },
  {
    pattern: /^return-broken-stream-final-chunk-after-(\d+)(B|K)$/,
    build: (m) => ({ kind: "broken-final", afterBytes: Number(m[1]) * (m[2] === "K" ? KIB : 1) }),
  },
  {
    pattern: /^return-truncated-body-final-chunk-after-(\d+)(B|K)$/,
    build: (m) => ({ kind: "truncated-final", afterBytes: Number(m[1]) * (m[2] === "K" ? KIB : 1) }),
  },
  { pattern: /^return-short-ack-(\d+)K$/, build: (m) => ({ kind: "short-ack", bytes: kib(m[1]) }) },
];

function kib(text: string | undefined): number {
  return Number(text) * KIB;
}

function withStatus(text: string | undefined, build: (status: number) => Fault): Fault | undefined {
  const status = Number(text);
  return status >= 400 && status <= 599 ? build(status) : undefined;
}

/** Parses one bare instruction (no kind prefix); undefined when it is not in the vocabulary. */
export function parseFault(instruction: string): Fault | undefined {
  for (const { pattern, build } of GRAMMAR) {
    const match = pattern.exec(instruction);
    if (match) return build(match);
  }
  return undefined;
}

/** An instruction with its optional request filter. */
export interface ParsedInstruction {
  /** The request kind it is aimed at; undefined = the next request of its method. */
  readonly kind: RequestKind | undefined;
  /** With a kind: the Nth request of that kind (1-based); undefined = the next one. */
  readonly ordinal: number | undefined;
  /** What the emulator does to that request. */
  readonly fault: Fault;
}

const PREFIXED = /^([a-z-]+)(?:#(\d+))?:(.+)$/;

/** Parses `[kind[#N]:]instruction`; undefined when any part is not in the vocabulary. */
export function parseInstruction(instruction: string): ParsedInstruction | undefined {
  const prefixed = PREFIXED.exec(instruction);
  if (!prefixed) {
    const fault = parseFault(instruction);
    return fault ? { kind: undefined, ordinal: undefined, fault } : undefined;
  }
  const kind = REQUEST_KINDS.find((candidate) => candidate === prefixed[1]);
  const ordinal = prefixed[2] === undefined ? undefined : Number(prefixed[2]);
  const fault = parseFault(prefixed[3]!);
  if (kind === undefined || fault === undefined || (ordinal !== undefined && !(ordinal >= 1 && Number.isSafeInteger(ordinal)))) return undefined;
  return { kind, ordinal, fault };
}

function endsUploadOnly(fault: Fault): boolean {
  return fault.kind === "broken-final" || fault.kind === "truncated-final";
}

/** The state of one retry test, as `GET /retry_test/{id}` shows it. */
export interface RetryTest {
  /** The id to send in the `x-retry-test-id` header. */
  readonly id: string;
  /** Instructions not consumed yet, per method. */
  readonly instructions: Readonly<Record<string, readonly string[]>>;
  /** Instructions consumed so far, per method, in order. */
  readonly consumed: Readonly<Record<string, readonly string[]>>;
  /** True once every list is empty. */
  readonly completed: boolean;
}

/** A consumed instruction: its text and what it means. */
export interface TakenFault {
  readonly instruction: string;
  readonly fault: Fault;
}

/** Thrown by {@link RetryTests.register} for an invalid registration. */
export class InvalidRetryTestError extends Error {
  override readonly name = "InvalidRetryTestError";
}

const METHOD = /^storage\.[A-Za-z]+\.[A-Za-z]+$/;

/** The registry behind `/retry_test`. Holds no timers. */
export class RetryTests {
  readonly #tests = new Map<string, { remaining: Map<string, string[]>; consumed: Map<string, string[]>; seen: Map<RequestKind, number> }>();
  readonly #newId: () => string;

  constructor(newId: () => string) {
    this.#newId = newId;
  }

  /** Registers instructions per method; throws {@link InvalidRetryTestError} for unknown words. */
  register(instructions: unknown, id?: string): RetryTest {
    if (typeof instructions !== "object" || instructions === null || Array.isArray(instructions)) {
      throw new InvalidRetryTestError('"instructions" must be an object mapping method names to lists of instructions.');
    }
    const remaining = new Map<string, string[]>();
    for (const [method, list] of Object.entries(instructions)) {
      if (!METHOD.test(method)) throw new InvalidRetryTestError(`Unknown method "${method}" (expected e.g. "storage.objects.insert").`);
      if (!Array.isArray(list) || !list.every((item): item is string => typeof item === "string")) {
        throw new InvalidRetryTestError(`Instructions for "${method}" must be a list of strings.`);
      }
      const unknown = list.filter((item) => parseInstruction(item) === undefined);
      if (unknown.length > 0) {
        throw new InvalidRetryTestError(
          `Unknown instruction(s) for "${method}": ${unknown.join(", ")}. Valid instructions: ${FAULT_VOCABULARY.join("; ")}.`,
        );
      }
      checkKinds(method, list);
      remaining.set(method, [...list]);
    }
    const testId = id ?? this.#newId();
    if (this.#tests.has(testId)) throw new InvalidRetryTestError(`A retry test with id "${testId}" already exists.`);
    this.#tests.set(testId, { remaining, consumed: new Map(), seen: new Map() });
    return this.#view(testId)!;
  }

  /** The state of a test, or undefined. */
  get(id: string): RetryTest | undefined {
    return this.#view(id);
  }

  /** Every registered test. */
  list(): RetryTest[] {
    return [...this.#tests.keys()].map((id) => this.#view(id)!);
  }

  /** Removes a test; false when there was none. */
  delete(id: string): boolean {
    return this.#tests.delete(id);
  }

  /** Whether a test exists. */
  has(id: string): boolean {
    return this.#tests.has(id);
  }

  /**
   * Counts `request` for its kinds, then consumes the head instruction of its method's list in test `id`
   * when that instruction matches it (see the module rules). Undefined when nothing applies.
   */
  take(id: string, request: RequestDescriptor): TakenFault | undefined {
    const test = this.#tests.get(id);
    if (!test) return undefined;
    for (const kind of request.kinds) test.seen.set(kind, (test.seen.get(kind) ?? 0) + 1);
    const list = test.remaining.get(request.method);
    const instruction = list?.[0];
    if (!list || instruction === undefined) return undefined;
    const parsed = parseInstruction(instruction)!;
    if (endsUploadOnly(parsed.fault) && !request.endsUpload) return undefined;
    if (parsed.kind !== undefined) {
      if (!request.kinds.includes(parsed.kind)) return undefined;
      if (parsed.ordinal !== undefined && test.seen.get(parsed.kind) !== parsed.ordinal) return undefined;
    }
    list.shift();
    const consumed = test.consumed.get(request.method) ?? [];
    consumed.push(instruction);
    test.consumed.set(request.method, consumed);
    return { instruction, fault: parsed.fault };
  }

  #view(id: string): RetryTest | undefined {
    const test = this.#tests.get(id);
    if (!test) return undefined;
    const instructions = Object.fromEntries([...test.remaining].map(([method, list]) => [method, [...list]]));
    const consumed = Object.fromEntries([...test.consumed].map(([method, list]) => [method, [...list]]));
    const completed = [...test.remaining.values()].every((list) => list.length === 0);
    return { id, instructions, consumed, completed };
  }
}

/**
 * Refuses lists that could never play out: a kind aimed at a method it does not belong to, or an
 * ordinal that is not above an earlier one of the same kind (its request would have gone by already).
 */
function checkKinds(method: string, list: readonly string[]): void {
  const last = new Map<RequestKind, number>();
  for (const item of list) {
    const { kind, ordinal } = parseInstruction(item)!;
    if (kind === undefined) continue;
    if (method !== KIND_METHOD) {
      throw new InvalidRetryTestError(`"${item}": request kinds (${kind}) belong to "${KIND_METHOD}", not "${method}".`);
    }
    if (ordinal === undefined) continue;
    const previous = last.get(kind);
    if (previous !== undefined && ordinal <= previous) {
      throw new InvalidRetryTestError(`"${item}" comes after ${kind}#${previous}: the ${ordinal}. ${kind} request would have gone by already.`);
    }
    last.set(kind, ordinal);
  }
}
