/**
 * Runs the suite in Deno and Bun from a Node vitest file, with the workspace's shared remote-runtime
 * harness (`@resumable-gcs/test-utils/remote-runtimes`): the suite is bundled once per run (the same
 * source Node runs), the runtime runs every case in one child process against an emulator this Node
 * process hosts, and each case becomes one vitest test here, so CI counts them per runtime.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Emulator, startEmulator } from "@resumable-gcs/emulator";
import { bundleSuite, describeRemoteRun, runBundleIn } from "@resumable-gcs/test-utils/remote-runtimes";
import { afterAll, beforeAll, describe, it } from "vitest";
import { RESULT_PREFIX, type SuiteCase } from "./case.js";

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, "..", "..");

/** Generous: two cores shared with other test files, and every case runs in one child. */
const RUN_TIMEOUT_MS = 240_000;

/**
 * Registers `cases` as vitest tests run in `runtime`: one child run in beforeAll (against an
 * emulator started here), then one test per case reporting that case's result.
 */
export function describeInRuntime(runtime: "deno" | "bun", cases: readonly SuiteCase[]): void {
  const bucket = `iter-${runtime}`;
  let emulator: Emulator | undefined;
  describeRemoteRun({ describe, it, beforeAll, afterAll }, {
    title: `upload() in ${runtime}`,
    runtime,
    caseNames: cases.filter((testCase) => testCase.skipIn?.includes(runtime) !== true).map((testCase) => testCase.name),
    timeoutMs: RUN_TIMEOUT_MS,
    async run() {
      emulator = await startEmulator({ buckets: [bucket] });
      // Deno and Bun provide node: built-ins themselves (the suite feeds a node:stream Readable too).
      const bundle = await bundleSuite({ packageRoot, entry: join(here, "remote-entry.ts"), cacheName: "rgcs-iter-suite", label: runtime, external: [/^node:/] });
      try {
        return await runBundleIn(runtime, bundle, JSON.stringify({ emulatorUrl: emulator.url, bucket, runtime }), { packageRoot, resultPrefix: RESULT_PREFIX, timeoutMs: RUN_TIMEOUT_MS });
      } finally {
        await bundle.cleanup();
      }
    },
    stop: async () => emulator?.stop(),
  });
}

/** Registers `cases` as vitest tests run here, in Node, against an emulator of this file. */
export function describeInNode(cases: readonly SuiteCase[]): void {
  describe("upload() in node", () => {
    const bucket = "iter-node";
    let emulator: Emulator | undefined;
    beforeAll(async () => {
      emulator = await startEmulator({ buckets: [bucket] });
    });
    afterAll(async () => {
      await emulator?.stop();
    });
    for (const testCase of cases) {
      if (testCase.skipIn?.includes("node") === true) continue;
      it(testCase.name, () => testCase.run({ emulatorUrl: emulator!.url, bucket, runtime: "node" }), 120_000);
    }
  });
}
