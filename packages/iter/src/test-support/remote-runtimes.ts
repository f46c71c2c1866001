/**
 * Runs the suite in Deno and Bun from a Node vitest file, the way the web package's harness does:
 * the suite is bundled once per run with rolldown (the same source Node runs), the runtime runs every
 * case in one child process against an emulator this Node process hosts, and each case becomes one
 * vitest test here, so CI counts them per runtime. The binaries come from the npm packages `deno`
 * and `bun` (their platform packages ship them); nothing is downloaded at test time.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Emulator, startEmulator } from "@resumable-gcs/emulator";
import { afterAll, beforeAll, describe, it } from "vitest";
import { RESULT_PREFIX, type CaseResult, type SuiteCase } from "./case.js";

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, "..", "..");
const require = createRequire(import.meta.url);

/** Generous: two cores shared with other test files, and every case runs in one child. */
const RUN_TIMEOUT_MS = 240_000;

/** Bundles the suite into one ES module under node_modules/.cache (invisible to git and ESLint). */
async function bundleSuite(runtime: string): Promise<{ file: string; cleanup: () => Promise<void> }> {
  const { build } = await import("rolldown");
  const root = join(packageRoot, "node_modules", ".cache", "rgcs-iter-suite");
  await mkdir(root, { recursive: true });
  const dir = await mkdtemp(join(root, `${runtime}-`));
  const file = join(dir, "suite.mjs");
  await build({
    input: join(here, "remote-entry.ts"),
    platform: "browser",
    resolve: { extensionAlias: { ".js": [".ts", ".js"] } },
    // Deno and Bun provide node: built-ins themselves (the suite feeds a node:stream Readable too).
    external: [/^node:/],
    output: { file, format: "esm", codeSplitting: false },
    logLevel: "silent",
  });
  return { file, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The binary inside a runtime's platform package (their postinstall steps are off: see pnpm-workspace.yaml). */
function platformBinary(runtime: "deno" | "bun"): string {
  if (process.platform !== "linux" || process.arch !== "x64") throw new Error(`the ${runtime} runner knows only linux-x64, this is ${process.platform}-${process.arch}`);
  const fromPackage = createRequire(require.resolve(`${runtime}/package.json`));
  return runtime === "deno"
    ? join(dirname(fromPackage.resolve("@deno/linux-x64-glibc/package.json")), "deno")
    : join(dirname(fromPackage.resolve("@oven/bun-linux-x64/package.json")), "bin", "bun");
}

/** Runs a child to completion; resolves with its stdout, rejects with its output on a failure exit. */
function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: packageRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
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

/** A child environment without credentials, with update checks and telemetry off. */
function quietEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env["PATH"], HOME: process.env["HOME"], METADATA_SERVER_DETECTION: "none", GCE_METADATA_HOST: "127.0.0.1:9", NO_COLOR: "1", DO_NOT_TRACK: "1", ...extra };
}

async function runSuite(runtime: "deno" | "bun", environment: { emulatorUrl: string; bucket: string }): Promise<CaseResult[]> {
  const { file, cleanup } = await bundleSuite(runtime);
  const argument = JSON.stringify({ ...environment, runtime });
  try {
    const stdout =
      runtime === "deno"
        ? await run(
            platformBinary("deno"),
            ["run", "--quiet", "--no-lock", "--node-modules-dir=manual", "--allow-net=127.0.0.1", "--allow-read", "--allow-env", "--allow-ffi", "--allow-sys", file, argument],
            quietEnv({ DENO_DIR: join(dirname(file), "deno-dir"), DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" }),
          )
        : await run(platformBinary("bun"), ["run", "--no-install", file, argument], quietEnv({ BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" }));
    return stdout
      .split("\n")
      .filter((line) => line.startsWith(RESULT_PREFIX))
      .map((line) => JSON.parse(line.slice(RESULT_PREFIX.length)) as CaseResult);
  } finally {
    await cleanup();
  }
}

/**
 * Registers `cases` as vitest tests run in `runtime`: one child run in beforeAll (against an
 * emulator started here), then one test per case reporting that case's result.
 */
export function describeInRuntime(runtime: "deno" | "bun", cases: readonly SuiteCase[]): void {
  describe(`upload() in ${runtime}`, () => {
    const bucket = `iter-${runtime}`;
    let emulator: Emulator | undefined;
    let results = new Map<string, CaseResult>();
    let runFailure: unknown;

    beforeAll(async () => {
      emulator = await startEmulator({ buckets: [bucket] });
      try {
        const list = await runSuite(runtime, { emulatorUrl: emulator.url, bucket });
        results = new Map(list.map((result) => [result.name, result]));
      } catch (error) {
        // Reported by every case below rather than as one hook failure, so each says why.
        runFailure = error;
      }
    }, RUN_TIMEOUT_MS + 30_000);
    afterAll(async () => {
      await emulator?.stop();
    });

    for (const testCase of cases) {
      if (testCase.skipIn?.includes(runtime) === true) continue;
      it(testCase.name, () => {
        if (runFailure !== undefined) throw runFailure instanceof Error ? runFailure : new Error(`the ${runtime} run failed: ${JSON.stringify(runFailure)}`);
        const result = results.get(testCase.name);
        if (result === undefined) throw new Error(`${runtime} reported no result for this case (it crashed or stopped before it)`);
        if (!result.ok) throw new Error(`in ${runtime}: ${result.error ?? "failed"}`);
      });
    }
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
