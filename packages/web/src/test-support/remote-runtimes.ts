/**
 * Runs the behavioural suite in Deno, Bun and workerd from a Node vitest file: the suite is bundled
 * once per run (rolldown; the same source every runtime runs), each runtime runs every case against
 * the emulator this Node process hosts, and each case becomes one vitest test here, so CI's summary
 * counts them per runtime. The runtimes come from the npm packages `deno`, `bun` and `miniflare`
 * (which ship their binaries); nothing is downloaded at test time.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Emulator, startEmulator } from "@resumable-gcs/emulator";
import { type ConformanceServer, startConformanceServer } from "@resumable-gcs/transport-conformance/server";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { CaseResult, RuntimeName, SuiteEnvironment } from "./case.js";
import { RESULT_PREFIX } from "./remote-protocol.js";
import { remoteCases } from "./suite.js";

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, "..", "..");
const require = createRequire(import.meta.url);

/**
 * Bundles one entry of the suite into a single ES module under the package's node_modules/.cache
 * (so the optional native checksum still resolves from there, and neither git nor ESLint sees it).
 */
async function bundle(entry: "remote-cli-entry" | "remote-worker-entry", runtime: string): Promise<{ file: string; cleanup: () => Promise<void> }> {
  const { build } = await import("rolldown");
  const root = join(packageRoot, "node_modules", ".cache", "rgcs-suite-bundles");
  await mkdir(root, { recursive: true });
  const dir = await mkdtemp(join(root, `${runtime}-`));
  const file = join(dir, "suite.mjs");
  await build({
    input: join(here, `${entry}.ts`),
    platform: "browser",
    resolve: { extensionAlias: { ".js": [".ts", ".js"] } },
    output: { file, format: "esm", codeSplitting: false },
    logLevel: "silent",
  });
  return { file, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The binary inside a runtime's platform package (their postinstall steps are off: see pnpm-workspace.yaml). */
function platformBinary(runtime: "deno" | "bun"): string {
  const fromPackage = createRequire(require.resolve(`${runtime}/package.json`));
  if (process.platform !== "linux" || process.arch !== "x64") throw new Error(`the ${runtime} test runner knows only linux-x64, this is ${process.platform}-${process.arch}`);
  return runtime === "deno" ? join(dirname(fromPackage.resolve("@deno/linux-x64-glibc/package.json")), "deno") : join(dirname(fromPackage.resolve("@oven/bun-linux-x64/package.json")), "bin", "bun");
}

/** Runs a child process to completion; resolves with its stdout, rejects with its stderr on failure. */
function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: packageRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} exited with ${code ?? signal}\n${stderr.slice(-4000)}\n${stdout.slice(-2000)}`));
    });
  });
}

function parseResults(stdout: string): CaseResult[] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith(RESULT_PREFIX))
    .map((line) => JSON.parse(line.slice(RESULT_PREFIX.length)) as CaseResult);
}

/** A child environment without credentials of any kind, with update checks and telemetry off. */
function quietEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env["PATH"], HOME: process.env["HOME"], METADATA_SERVER_DETECTION: "none", GCE_METADATA_HOST: "127.0.0.1:9", NO_COLOR: "1", DO_NOT_TRACK: "1", ...extra };
  return env;
}

const RUN_TIMEOUT_MS = 150_000;

type Launcher = (environment: SuiteEnvironment) => Promise<CaseResult[]>;

const launchers: Record<"deno" | "bun" | "workerd", Launcher> = {
  async deno(environment) {
    const { file, cleanup } = await bundle("remote-cli-entry", "deno");
    try {
      const denoDir = join(dirname(file), "deno-dir");
      const args = ["run", "--quiet", "--no-lock", "--node-modules-dir=manual", "--allow-net=127.0.0.1", "--allow-read", "--allow-env", "--allow-ffi", "--allow-sys", file, JSON.stringify(environment)];
      return parseResults(await run(platformBinary("deno"), args, quietEnv({ DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" }), RUN_TIMEOUT_MS));
    } finally {
      await cleanup();
    }
  },
  async bun(environment) {
    const { file, cleanup } = await bundle("remote-cli-entry", "bun");
    try {
      return parseResults(await run(platformBinary("bun"), ["run", "--no-install", file, JSON.stringify(environment)], quietEnv({ BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" }), RUN_TIMEOUT_MS));
    } finally {
      await cleanup();
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
  describe(`behaviour in ${runtime}`, () => {
    const bucket = `web-${runtime}`;
    let emulator: Emulator | undefined;
    let conformance: ConformanceServer | undefined;
    let results = new Map<string, CaseResult>();
    let runFailure: unknown;

    beforeAll(async () => {
      emulator = await startEmulator({ buckets: [bucket] });
      conformance = await startConformanceServer();
      try {
        const list = await launchers[runtime]({ emulatorUrl: emulator.url, bucket, runtime, conformance: conformance.info });
        results = new Map(list.map((result) => [result.name, result]));
      } catch (error) {
        // Reported by every case below rather than as one hook failure, so each shows why.
        runFailure = error;
      }
    }, RUN_TIMEOUT_MS + 30_000);
    afterAll(async () => {
      await conformance?.stop();
      await emulator?.stop();
    });

    for (const testCase of cases) {
      it(testCase.name, () => {
        if (runFailure !== undefined) throw runFailure instanceof Error ? runFailure : new Error(`the ${runtime} run failed: ${JSON.stringify(runFailure)}`);
        const result = results.get(testCase.name);
        if (result === undefined) throw new Error(`${runtime} reported no result for this case (it crashed or stopped before it)`);
        if (!result.ok) throw new Error(`in ${runtime}: ${result.error ?? "failed"}`);
      });
    }
  });
}
