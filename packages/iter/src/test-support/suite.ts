/**
 * The runtime-neutral suite: every case runs under Node's vitest and, bundled, under Deno and Bun
 * (see remote-runtimes.ts). Runners turn each case into one test, so CI counts them per runtime.
 */
import type { SuiteCase } from "./case.js";
import { sourceCases } from "./source-cases.js";
import { uploadCases } from "./upload-cases.js";

/** Every case, in order. */
export const suiteCases: readonly SuiteCase[] = [...sourceCases, ...uploadCases];
