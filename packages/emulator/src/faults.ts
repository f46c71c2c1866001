/**
 * Fault injection in the vocabulary of Google's storage-testbench "retry tests" (PROTOCOL.md §7), plus
 * `return-short-ack-<N>K` of our own.
 *
 * Rules:
 * - A retry test maps a method name (`storage.objects.insert`, ...) to a list of instructions. A request
 *   carrying `x-retry-test-id` whose method matches consumes the FIRST instruction of that method's list;
 *   requests of other methods consume nothing. So a list always yields the same behaviour, request by
 *   request: that is the determinism guarantee.
 * - One exception keeps the final-chunk instruction usable without counting requests: while
 *   `return-broken-stream-final-chunk-after-<N>B` heads a list, requests that do not end the upload pass
 *   through untouched and leave it in place; the request that ends the upload consumes it.
 * - `<N>K` is N KiB (N x 1024 bytes): of the request body as sent for triggers (reset-after, stall), of
 *   the request's new bytes for what is kept (status-after, short-ack); `<N>B` is N bytes of the response body.
 */

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
  { pattern: /^return-short-ack-(\d+)K$/, build: (m) => ({ kind: "short-ack", bytes: kib(m[1]) }) },
];

function kib(text: string | undefined): number {
  return Number(text) * KIB;
}

function withStatus(text: string | undefined, build: (status: number) => Fault): Fault | undefined {
  const status = Number(text);
  return status >= 400 && status <= 599 ? build(status) : undefined;
}

/** Parses one instruction; undefined when it is not in the vocabulary. */
export function parseFault(instruction: string): Fault | undefined {
  for (const { pattern, build } of GRAMMAR) {
    const match = pattern.exec(instruction);
    if (match) return build(match);
  }
  return undefined;
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
  readonly #tests = new Map<string, { remaining: Map<string, string[]>; consumed: Map<string, string[]> }>();
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
      const unknown = list.filter((item) => parseFault(item) === undefined);
      if (unknown.length > 0) throw new InvalidRetryTestError(`Unknown instruction(s) for "${method}": ${unknown.join(", ")}.`);
      remaining.set(method, [...list]);
    }
    const testId = id ?? this.#newId();
    if (this.#tests.has(testId)) throw new InvalidRetryTestError(`A retry test with id "${testId}" already exists.`);
    this.#tests.set(testId, { remaining, consumed: new Map() });
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
   * Consumes the next instruction of `method` in test `id`, if any (see the module rules).
   * `endsUpload` says whether this request would end an upload, for the final-chunk instruction.
   */
  take(id: string, method: string, endsUpload: boolean): TakenFault | undefined {
    const test = this.#tests.get(id);
    const list = test?.remaining.get(method);
    const instruction = list?.[0];
    if (!test || !list || instruction === undefined) return undefined;
    const fault = parseFault(instruction)!;
    if (fault.kind === "broken-final" && !endsUpload) return undefined;
    list.shift();
    const consumed = test.consumed.get(method) ?? [];
    consumed.push(instruction);
    test.consumed.set(method, consumed);
    return { instruction, fault };
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
