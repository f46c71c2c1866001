/**
 * The behavioural suite: runtime-neutral cases that every runtime runs the same way (Node's vitest,
 * vitest browser mode in Chromium, and Deno, Bun and workerd as child processes). A case is a plain
 * async function that throws on failure; it reaches the emulator only over HTTP, through the
 * runtime's own fetch. Runners turn each case into one test, so CI counts them per runtime.
 */
import type { SuiteCase, SuiteEnvironment } from "./case.js";
import { fetchConformanceCases } from "./conformance-cases.js";
import { checksumCases } from "./checksum-cases.js";
import { fetchTransportCases } from "./transport-cases.js";
import { uploadCases } from "./upload-cases.js";

export { runCases, type CaseResult, type RuntimeName, type SuiteCase, type SuiteEnvironment } from "./case.js";

/** Every case, in order. */
export const behaviourCases: readonly SuiteCase[] = [...checksumCases, ...fetchTransportCases, ...uploadCases];


/**
 * What a remote runtime (Deno, Bun, workerd) runs: the behavioural cases, then the fetch
 * transport's conformance cases when the runner started a conformance server.
 */
export function remoteCases(environment: Pick<SuiteEnvironment, "conformance">): SuiteCase[] {
  const { conformance } = environment;
  if (conformance === undefined) return [...behaviourCases];
  return [...behaviourCases, ...fetchConformanceCases(() => conformance)];
}
