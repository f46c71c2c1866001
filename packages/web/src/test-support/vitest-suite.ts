/**
 * Turns the behavioural suite into vitest tests in the runtime vitest itself runs in (Node, or
 * Chromium in browser mode): one test per case.
 */
import { it } from "vitest";
import type { RuntimeName, SuiteCase, SuiteEnvironment } from "./case.js";

/** Registers one vitest test per case; `environment` is read when the test runs (after beforeAll). */
export function registerCases(runtime: RuntimeName, cases: readonly SuiteCase[], environment: () => Omit<SuiteEnvironment, "runtime">, timeoutMs = 60_000): void {
  for (const testCase of cases) {
    it(testCase.name, () => testCase.run({ ...environment(), runtime }), timeoutMs);
  }
}
