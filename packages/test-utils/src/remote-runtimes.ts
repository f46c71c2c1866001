/**
 * Running a package's test suite in another runtime (Deno, Bun) from a Node vitest file: what the
 * web and iter harnesses share. A package bundles its suite's entry (rolldown, the same source Node
 * runs), runs the bundle in the runtime's binary against servers this Node process hosts, parses one
 * result line per case from its stdout, and reports each case as one vitest test, so CI counts them
 * per runtime.
 *
 * The binaries come from the npm packages `deno` and `bun` (their platform packages ship them; their
 * postinstall steps are off, see pnpm-workspace.yaml): nothing is downloaded at test time. The
 * package that calls this must list `deno`, `bun` and `rolldown` among its own dev dependencies,
 * because the binaries are resolved from its directory.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** What a remote run reports for one case. */
export interface RemoteCaseResult {
  /** The case's name, as the package's suite lists it. */
  readonly name: string;
  /** Whether the case passed in that runtime. */
  readonly ok: boolean;
  /** Why it failed (message, with stack when the runtime gave one). */
  readonly error?: string;
}

/** A bundle written for one run, and how to remove it. */
export interface SuiteBundle {
  /** The single ES module to hand the runtime. */
  readonly file: string;
  /** Removes the bundle's directory. */
  readonly cleanup: () => Promise<void>;
}

/** What {@link bundleSuite} builds. */
export interface BundleOptions {
  /** The package's root (its `node_modules/.cache` holds the bundle, so its dependencies resolve and neither git nor ESLint sees it). */
  readonly packageRoot: string;
  /** The entry module (a `.ts` file). */
  readonly entry: string;
  /** A name for the cache folder, one per package. */
  readonly cacheName: string;
  /** A label for the run's own folder (the runtime's name). */
  readonly label: string;
  /** Modules left as imports, for runtimes that provide them (`node:` built-ins in Deno and Bun). */
  readonly external?: readonly RegExp[];
}

/** Bundles `entry` into one ES module for a runtime that cannot read the workspace's TypeScript. */
export async function bundleSuite(options: BundleOptions): Promise<SuiteBundle> {
  const { build } = await import("rolldown");
  const root = join(options.packageRoot, "node_modules", ".cache", options.cacheName);
  await mkdir(root, { recursive: true });
  const dir = await mkdtemp(join(root, `${options.label}-`));
  const file = join(dir, "suite.mjs");
  await build({
    input: options.entry,
    platform: "browser",
    resolve: { extensionAlias: { ".js": [".ts", ".js"] } },
    ...(options.external === undefined ? {} : { external: [...options.external] }),
    output: { file, format: "esm", codeSplitting: false },
    logLevel: "silent",
  });
  return { file, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The runtimes with a command-line binary. */
export type CliRuntime = "deno" | "bun";

/** The binary inside `runtime`'s platform package, resolved from `packageRoot` (which must depend on the npm package `deno` or `bun`). */
export function runtimeBinary(runtime: CliRuntime, packageRoot: string): string {
  if (process.platform !== "linux" || process.arch !== "x64") throw new Error(`the ${runtime} test runner knows only linux-x64, this is ${process.platform}-${process.arch}`);
  const fromPackage = createRequire(join(packageRoot, "package.json"));
  const fromRuntime = createRequire(fromPackage.resolve(`${runtime}/package.json`));
  return runtime === "deno"
    ? join(dirname(fromRuntime.resolve("@deno/linux-x64-glibc/package.json")), "deno")
    : join(dirname(fromRuntime.resolve("@oven/bun-linux-x64/package.json")), "bin", "bun");
}

/** A child environment without credentials of any kind, with update checks, colours and telemetry off. */
export function quietEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env["PATH"], HOME: process.env["HOME"], METADATA_SERVER_DETECTION: "none", GCE_METADATA_HOST: "127.0.0.1:9", NO_COLOR: "1", DO_NOT_TRACK: "1", ...extra };
}

/** Runs a child to completion; resolves with its stdout, rejects with the tail of its output on a failure exit or after `timeoutMs` (then killed). */
export function runToCompletion(command: string, args: readonly string[], options: { readonly cwd: string; readonly env: NodeJS.ProcessEnv; readonly timeoutMs: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
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

/** The lines of `stdout` that start with `prefix`, each parsed as one case's result. */
export function parseResultLines<T extends RemoteCaseResult = RemoteCaseResult>(stdout: string, prefix: string): T[] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith(prefix))
    .map((line) => JSON.parse(line.slice(prefix.length)) as T);
}

/**
 * Runs a bundle in Deno or Bun with `argument` (its one command-line argument, usually JSON), with
 * the permissions a suite against loopback servers needs, and returns the parsed result lines.
 */
export async function runBundleIn(runtime: CliRuntime, bundle: SuiteBundle, argument: string, options: { readonly packageRoot: string; readonly resultPrefix: string; readonly timeoutMs: number }): Promise<RemoteCaseResult[]> {
  const binary = runtimeBinary(runtime, options.packageRoot);
  const run = { cwd: options.packageRoot, timeoutMs: options.timeoutMs };
  const stdout =
    runtime === "deno"
      ? await runToCompletion(
          binary,
          ["run", "--quiet", "--no-lock", "--node-modules-dir=manual", "--allow-net=127.0.0.1", "--allow-read", "--allow-env", "--allow-ffi", "--allow-sys", bundle.file, argument],
          { ...run, env: quietEnv({ DENO_DIR: join(dirname(bundle.file), "deno-dir"), DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" }) },
        )
      : await runToCompletion(binary, ["run", "--no-install", bundle.file, argument], { ...run, env: quietEnv({ BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" }) });
  return parseResultLines(stdout, options.resultPrefix);
}

/** The test framework's hooks, passed in so this package never loads its own copy of vitest. */
export interface SuiteApi {
  readonly describe: (title: string, body: () => void) => void;
  readonly it: (name: string, test: () => void) => void;
  readonly beforeAll: (hook: () => Promise<void>, timeoutMs?: number) => void;
  readonly afterAll: (hook: () => Promise<void>) => void;
}

/** What {@link describeRemoteRun} needs. */
export interface RemoteRunOptions {
  /** The describe block's title. */
  readonly title: string;
  /** The runtime's name, for messages. */
  readonly runtime: string;
  /** The cases the run must report, by name, in order. */
  readonly caseNames: readonly string[];
  /** The whole run's limit: the run happens in `beforeAll`. */
  readonly timeoutMs: number;
  /** Performs the run (start servers, launch the runtime) and returns one result per case. */
  readonly run: () => Promise<readonly RemoteCaseResult[]>;
  /** Stops what `run` started, in `afterAll`. */
  readonly stop?: () => Promise<void>;
}

/**
 * One child run in `beforeAll`, then one vitest test per case reading that run's result. A run that
 * fails as a whole is reported by every case (each says why) rather than as one hook failure.
 */
export function describeRemoteRun({ describe, it, beforeAll, afterAll }: SuiteApi, options: RemoteRunOptions): void {
  describe(options.title, () => {
    let results = new Map<string, RemoteCaseResult>();
    let runFailure: unknown;
    beforeAll(async () => {
      try {
        results = new Map((await options.run()).map((result) => [result.name, result]));
      } catch (error) {
        runFailure = error;
      }
    }, options.timeoutMs + 30_000);
    afterAll(async () => {
      await options.stop?.();
    });
    for (const name of options.caseNames) {
      it(name, () => {
        if (runFailure !== undefined) throw runFailure instanceof Error ? runFailure : new Error(`the ${options.runtime} run failed: ${JSON.stringify(runFailure)}`);
        const result = results.get(name);
        if (result === undefined) throw new Error(`${options.runtime} reported no result for this case (it crashed or stopped before it)`);
        if (!result.ok) throw new Error(`in ${options.runtime}: ${result.error ?? "failed"}`);
      });
    }
  });
}
