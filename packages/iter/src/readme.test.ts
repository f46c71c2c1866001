/**
 * The README's examples run as written: every fenced ts block that imports something and declares no
 * inputs is written to a file in this package (so `@resumable-gcs/iter` resolves to this package) and
 * run by Node (type stripping) against an emulator given as STORAGE_EMULATOR_HOST, the way a reader
 * would run it. Files the examples read are created first. (Blocks with `declare` need the reader's
 * inputs: the repository's consumer check type-checks them.)
 */
import { spawn } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startEmulator, type Emulator } from "@resumable-gcs/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const packageRoot = fileURLToPath(new URL("..", import.meta.url));
const workdir = join(packageRoot, ".cache", "readme-examples");

interface Example {
  readonly line: number;
  readonly code: string;
}

function runnableExamples(markdown: string): Example[] {
  const out: Example[] = [];
  const lines = markdown.split("\n");
  for (let index = 0; index < lines.length; index++) {
    if (!/^```ts\s*$/.test(lines[index]!)) continue;
    const start = index + 1;
    let end = start;
    while (end < lines.length && !lines[end]!.startsWith("```")) end++;
    const code = lines.slice(start, end).join("\n");
    index = end;
    if (/^import\s/m.test(code) && !/^declare\s/m.test(code)) out.push({ line: start, code });
  }
  return out;
}

/** What the example says it prints: `console.log(x); // "text"` comments, in order. */
function expectedOutput(code: string): string[] {
  return [...code.matchAll(/console\.log\(.*\);\s*\/\/\s*("(?:[^"\\]|\\.)*")\s*$/gm)].map((match) => JSON.parse(match[1]!) as string);
}

function fixturesOf(code: string): string[] {
  return [...code.matchAll(/\b(?:createReadStream|openAsBlob|readFile)\(\s*"([^"]+)"/g)].map((match) => match[1]!);
}

function runExample(file: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], {
      cwd: workdir,
      env: { PATH: process.env["PATH"], METADATA_SERVER_DETECTION: "none", GCE_METADATA_HOST: "127.0.0.1:9", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (output += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (output += text));
    child.on("close", (code) => resolve({ code, output }));
    child.stdin.end("bytes from stdin\n");
  });
}

const readme = await readFile(join(packageRoot, "README.md"), "utf8");
const examples = runnableExamples(readme);
let emulator: Emulator;

beforeAll(async () => {
  emulator = await startEmulator({ autoCreateBuckets: true });
  await rm(workdir, { recursive: true, force: true });
  await mkdir(workdir, { recursive: true });
});
afterAll(async () => {
  await emulator?.stop();
  await rm(workdir, { recursive: true, force: true });
});

describe("README examples", () => {
  it("has runnable examples", () => {
    expect(examples.length).toBeGreaterThanOrEqual(3);
  });

  for (const example of examples) {
    it(`README.md:${example.line} runs as written`, async () => {
      for (const fixture of fixturesOf(example.code)) await writeFile(join(workdir, fixture), `contents of ${fixture}\n`.repeat(1000));
      const file = join(workdir, `example-${example.line}.ts`);
      await writeFile(file, `${example.code}\n`);
      const result = await runExample(file, { STORAGE_EMULATOR_HOST: emulator.url });
      expect(result, result.output).toMatchObject({ code: 0 });
      // What the comments say it prints, it prints, in that order.
      const printed = result.output.split("\n");
      let from = 0;
      for (const line of expectedOutput(example.code)) {
        const at = printed.indexOf(line, from);
        expect(at, `printed ${JSON.stringify(line)} (after line ${from}) in:\n${result.output}`).toBeGreaterThanOrEqual(0);
        from = at + 1;
      }
    }, 60_000);
  }
});
