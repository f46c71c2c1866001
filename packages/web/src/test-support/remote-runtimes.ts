/**
 * Runs the behavioural suite in Deno, Bun and workerd from a Node vitest file: the suite is bundled
 * once per run (rolldown; the same source every runtime runs), each runtime runs every case against
 * the emulator this Node process hosts, and each case becomes one vitest test here, so CI's summary
 * counts them per runtime. The runtimes come from the npm packages `deno`, `bun` and `miniflare`
 * (which ship their binaries); nothing is downloaded at test time.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Emulator, startEmulator } from "@resumable-gcs/emulator";
import { type ConformanceServer, startConformanceServer } from "@resumable-gcs/transport-conformance/server";
import { bundleSuite, describeRemoteRun, runBundleIn, type SuiteBundle } from "@resumable-gcs/test-utils/remote-runtimes";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { CaseResult, RuntimeName, SuiteEnvironment } from "./case.js";
import { RESULT_PREFIX } from "./remote-protocol.js";
import { remoteCases } from "./suite.js";

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, "..", "..");

/**
 * Bundles one entry of the suite into a single ES module under the package's node_modules/.cache
 * (so the optional native checksum still resolves from there, and neither git nor ESLint sees it).
 */
function bundle(entry: "remote-cli-entry" | "remote-worker-entry", runtime: string): Promise<SuiteBundle> {
  return bundleSuite({ packageRoot, entry: join(here, `${entry}.ts`), cacheName: "rgcs-suite-bundles", label: runtime });
}

const RUN_TIMEOUT_MS = 150_000;

type Launcher = (environment: SuiteEnvironment) => Promise<CaseResult[]>;

const launchers: Record<"deno" | "bun" | "workerd", Launcher> = {
  async deno(environment) {
    const suite = await bundle("remote-cli-entry", "deno");
    try {
      return (await runBundleIn("deno", suite, JSON.stringify(environment), { packageRoot, resultPrefix: RESULT_PREFIX, timeoutMs: RUN_TIMEOUT_MS })) as CaseResult[];
    } finally {
      await suite.cleanup();
    }
  },
  async bun(environment) {
    const suite = await bundle("remote-cli-entry", "bun");
    try {
      return (await runBundleIn("bun", suite, JSON.stringify(environment), { packageRoot, resultPrefix: RESULT_PREFIX, timeoutMs: RUN_TIMEOUT_MS })) as CaseResult[];
    } finally {
      await suite.cleanup();
    }
  },
  async workerd(environment) {
    const { file, cleanup } = await bundle("remote-worker-entry", "workerd");
    const { Miniflare } = await import("miniflare");
    const miniflare = new Miniflare({
      // Listed, not discovered: Miniflare's module walker refuses the computed `import()` of the
      // optional native checksum (which workerd never reaches anyway).
      modules: [{ type: "ESModule", path: file }],
      modulesRoot: dirname(file), compatibilityDate: "2026-07-01", host: "127.0.0.1", port: 0 });
    try {
      const response = await miniflare.dispatchFetch("http://suite.invalid/run", { method: "POST", body: JSON.stringify(environment) });
      const text = await response.text();
      if (!response.ok) throw new Error(`the worker answered ${response.status}: ${text.slice(0, 4000)}`);
      return JSON.parse(text) as CaseResult[];
    } finally {
      await miniflare.dispose();
      await cleanup();
    }
  },
};

/** Addresses that are never contacted: only the conformance cases' names are needed in Node. */
const LISTING_ONLY = { url: "http://listing.invalid", otherOriginUrl: "http://listing.invalid", emulatorUrl: "http://listing.invalid", refusedUrl: "http://listing.invalid" };

/**
 * Registers the remote suite (behavioural cases, then the fetch transport's conformance cases) as
 * vitest tests that run in `runtime`: one child run in beforeAll, against an emulator and a
 * conformance server started here, then one test per case reading that run's result.
 */
export function describeRemoteRuntime(runtime: Exclude<RuntimeName, "node" | "chromium">): void {
  const cases = remoteCases({ conformance: LISTING_ONLY });
  const bucket = `web-${runtime}`;
  let emulator: Emulator | undefined;
  let conformance: ConformanceServer | undefined;
  describeRemoteRun({ describe, it, beforeAll, afterAll }, {
    title: `behaviour in ${runtime}`,
    runtime,
    caseNames: cases.map((testCase) => testCase.name),
    timeoutMs: RUN_TIMEOUT_MS,
    async run() {
      emulator = await startEmulator({ buckets: [bucket] });
      conformance = await startConformanceServer();
      return launchers[runtime]({ emulatorUrl: emulator.url, bucket, runtime, conformance: conformance.info });
    },
    async stop() {
      await conformance?.stop();
      await emulator?.stop();
    },
  });
}
