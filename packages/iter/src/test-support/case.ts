/**
 * The shape of a runtime-neutral case and its helpers. A case is a plain async function that throws
 * on failure and reaches the emulator only over HTTP with the runtime's own fetch, so the same cases
 * run under Node's vitest and, as child processes, under Deno and Bun (the web package's harness
 * works the same way; see packages/web/src/test-support).
 */

/** The runtimes the suite runs in. */
export type RuntimeName = "node" | "deno" | "bun";

/** What a case gets: where the emulator is, and which runtime it runs in. */
export interface SuiteEnvironment {
  /** The emulator's base URL (http://127.0.0.1:PORT). */
  readonly emulatorUrl: string;
  /** A bucket that exists on the emulator. */
  readonly bucket: string;
  /** The runtime running the case. */
  readonly runtime: RuntimeName;
}

/** One behaviour to check. */
export interface SuiteCase {
  /** The test name (unique within the suite). */
  readonly name: string;
  /** Runs the case; rejects with a descriptive error on failure. */
  readonly run: (environment: SuiteEnvironment) => Promise<void>;
  /** Runtimes that skip the case (e.g. 100 MiB chunks, measured once, in Node). */
  readonly skipIn?: readonly RuntimeName[];
}

/** One case's outcome, as remote runtimes report it. */
export interface CaseResult {
  readonly name: string;
  readonly ok: boolean;
  readonly error?: string;
  readonly ms: number;
}

/** The line prefix that marks a case result in a remote runtime's stdout (anything else is log noise). */
export const RESULT_PREFIX = "@@rgcs-iter-case ";

/** Runs `cases` one after the other (a remote runtime's whole run), never throwing. */
export async function runCases(environment: SuiteEnvironment, cases: readonly SuiteCase[], onResult: (result: CaseResult) => void): Promise<void> {
  for (const testCase of cases) {
    if (testCase.skipIn?.includes(environment.runtime) === true) continue;
    const started = Date.now();
    try {
      await testCase.run(environment);
      onResult({ name: testCase.name, ok: true, ms: Date.now() - started });
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}${error.stack === undefined ? "" : `\n${error.stack}`}` : String(error);
      onResult({ name: testCase.name, ok: false, error: message, ms: Date.now() - started });
    }
  }
}

/** Fails with `message` unless `condition` holds (cases run outside any test framework). */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Fails unless `actual` equals `expected` (compared as JSON), naming both. */
export function checkEqual(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, came ${a}`);
}

/** Resolves with what `promise` rejected with; fails if it resolved. */
export async function rejection(promise: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error(`${what}: expected a rejection, it resolved`);
}
