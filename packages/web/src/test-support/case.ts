/** The shape of a behavioural case and its helpers, shared by the case files and the runners. */
import type { ConformanceServerInfo } from "@resumable-gcs/transport-conformance/cases";

/** The runtimes the suite runs in. */
export type RuntimeName = "node" | "chromium" | "deno" | "bun" | "workerd";

/** What a case gets: where the emulator is, and which runtime it runs in. */
export interface SuiteEnvironment {
  /** The emulator's base URL (http://127.0.0.1:PORT). */
  readonly emulatorUrl: string;
  /** The runtime running the case. */
  readonly runtime: RuntimeName;
  /** A bucket that exists on the emulator. */
  readonly bucket: string;
  /** The transport conformance server's addresses, where the runner started one. */
  readonly conformance?: ConformanceServerInfo;
}

/** One behaviour to check. */
export interface SuiteCase {
  /** The test name (unique within the suite). */
  readonly name: string;
  /** Runs the case; rejects with a descriptive error on failure. */
  readonly run: (environment: SuiteEnvironment) => Promise<void>;
}

/** One case's outcome, as remote runtimes report it. */
export interface CaseResult {
  readonly name: string;
  readonly ok: boolean;
  readonly error?: string;
  readonly ms: number;
}

/** Runs `cases` one after the other (a remote runtime's whole run), never throwing. */
export async function runCases(environment: SuiteEnvironment, cases: readonly SuiteCase[], onResult?: (result: CaseResult) => void): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const testCase of cases) {
    const started = Date.now();
    let result: CaseResult;
    try {
      await testCase.run(environment);
      result = { name: testCase.name, ok: true, ms: Date.now() - started };
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}${error.stack === undefined ? "" : `\n${error.stack}`}` : String(error);
      result = { name: testCase.name, ok: false, error: message, ms: Date.now() - started };
    }
    results.push(result);
    onResult?.(result);
  }
  return results;
}

/** Fails with `message` unless `condition` holds (cases run outside any test framework). */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
