// The repository checks catch what they claim to, on fixture trees and documents built here.
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const here = import.meta.dirname;
const temp = mkdtempSync(join(tmpdir(), "rgcs-checks-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** Runs a script, resolving with its exit code and output whatever the code. */
async function script(name, args) {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(here, name), ...args]);
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    return { code: error.code, output: `${error.stdout}${error.stderr}` };
  }
}

/** A repository with one published package, complete unless `spoil` changes it. */
function fixture(name, spoil = (pkg, readme) => ({ pkg, readme })) {
  const root = join(temp, name);
  mkdirSync(join(root, "packages", "thing"), { recursive: true });
  cpSync(join(here, "..", "LICENSE"), join(root, "LICENSE"));
  cpSync(join(here, "..", "LICENSE"), join(root, "packages", "thing", "LICENSE"));
  const repo = "https://github.com/resumable-gcs/resumable-gcs";
  const complete = {
    name: "@resumable-gcs/thing",
    license: "Apache-2.0",
    files: ["dist", "LICENSE"],
    repository: { type: "git", url: `git+${repo}.git`, directory: "packages/thing" },
    homepage: `${repo}/tree/main/packages/thing#readme`,
    bugs: { url: `${repo}/issues` },
    engines: { node: ">=22.12" },
  };
  const readme = `# thing\n\n\`\`\`sh\nnpm install @resumable-gcs/thing\n\`\`\`\n\nNode.js 22.12 or newer. See [core](${repo}/tree/main/packages/core#readme).\n`;
  const spoiled = spoil(complete, readme);
  writeFileSync(join(root, "packages", "thing", "package.json"), JSON.stringify(spoiled.pkg, null, 2));
  writeFileSync(join(root, "packages", "thing", "README.md"), spoiled.readme);
  return root;
}

describe("check-packages", () => {
  it("passes a complete package", async () => {
    const result = await script("check-packages.mjs", ["--root", fixture("complete")]);
    expect(result.output).toContain("every published package is complete");
    expect(result.code).toBe(0);
  });

  it.each([
    ["a missing repository field", (pkg, readme) => ({ pkg: { ...pkg, repository: undefined }, readme }), /"repository" should be/],
    ["engines that admit Node 22.0", (pkg, readme) => ({ pkg: { ...pkg, engines: { node: ">=22" } }, readme }), /"engines" should be/],
    ["LICENSE not in files", (pkg, readme) => ({ pkg: { ...pkg, files: ["dist"] }, readme }), /"files" should list LICENSE/],
    ["no install line", (pkg, readme) => ({ pkg, readme: readme.replace("npm install @resumable-gcs/thing", "pnpm add it") }), /no install line/],
    ["a relative link", (pkg, readme) => ({ pkg, readme: `${readme}\n[core](../core)\n` }), /relative link \.\.\/core/],
    ["no minimum Node version", (pkg, readme) => ({ pkg, readme: readme.replace("Node.js 22.12 or newer. ", "") }), /minimum Node version/],
  ])("fails on %s", async (name, spoil, message) => {
    const result = await script("check-packages.mjs", ["--root", fixture(name.replaceAll(" ", "-"), spoil)]);
    expect(result.code).toBe(1);
    expect(result.output).toMatch(message);
  });

  it("--fix writes the metadata fields and the LICENSE copy", async () => {
    const root = fixture("fixable", (pkg, readme) => ({ pkg: { name: pkg.name, files: ["dist"] }, readme }));
    rmSync(join(root, "packages", "thing", "LICENSE"));
    expect((await script("check-packages.mjs", ["--root", root, "--fix"])).code).toBe(0);
    expect((await script("check-packages.mjs", ["--root", root])).code).toBe(0);
    const pkg = JSON.parse(readFileSync(join(root, "packages", "thing", "package.json"), "utf8"));
    expect(pkg).toMatchObject({ license: "Apache-2.0", engines: { node: ">=22.12" }, bugs: { url: "https://github.com/resumable-gcs/resumable-gcs/issues" } });
  });
});

describe("check-docs", () => {
  /** A TypeDoc JSON project: one package module whose children are given. */
  function project(children) {
    const file = join(temp, `api-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify({ kind: 1, name: "p", children: [{ kind: 2, name: "@resumable-gcs/thing", children }] }));
    return file;
  }
  const text = (t) => ({ summary: [{ kind: "text", text: t }] });

  it("passes when every export has TSDoc, on itself or its signature", async () => {
    const file = project([
      { kind: 32, name: "documentedConst", comment: text("A constant.") },
      { kind: 64, name: "documentedFunction", signatures: [{ kind: 4096, comment: text("Does a thing.") }] },
      { kind: 4194304, name: "reExport" },
    ]);
    const result = await script("check-docs.mjs", [file]);
    expect(result.code).toBe(0);
    expect(result.output).toContain("2 exports of the published packages, every one documented");
  });

  it("fails on an export without TSDoc, naming it", async () => {
    const file = project([
      { kind: 32, name: "documentedConst", comment: text("A constant.") },
      { kind: 64, name: "bareFunction", signatures: [{ kind: 4096 }], sources: [{ fileName: "src/x.ts", line: 3 }] },
      { kind: 256, name: "EmptyComment", comment: text("   ") },
    ]);
    const result = await script("check-docs.mjs", [file]);
    expect(result.code).toBe(1);
    expect(result.output).toContain("bareFunction (src/x.ts:3)");
    expect(result.output).toContain("EmptyComment");
    expect(result.output).not.toContain(": documentedConst");
  });
});
