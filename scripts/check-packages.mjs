#!/usr/bin/env node
// Checks what a user sees of every published package before installing it: the license file and
// fields, where the code and the issue tracker live, the Node versions it supports, and a README whose
// install line and links work on the registry's page (relative links are dead there).
// `node scripts/check-packages.mjs --fix` writes the metadata fields and copies LICENSE; README problems
// are only reported, because their wording is the package owner's.
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The project's public home; every package points at it the same way. */
export const REPOSITORY = "https://github.com/resumable-gcs/resumable-gcs";
/** `require()` of an ES module works unflagged from Node 22.12; 22.0–22.11 would need a flag. */
export const NODE_ENGINES = ">=22.12";

// `--root DIR` checks another tree (the script's own tests use fixtures); the repository by default.
const rootArg = process.argv.indexOf("--root");
const root = rootArg === -1 ? join(import.meta.dirname, "..") : process.argv[rootArg + 1];
const fix = process.argv.includes("--fix");
const rootLicense = readFileSync(join(root, "LICENSE"), "utf8");
const problems = [];

function expectedFields(dir) {
  return {
    license: "Apache-2.0",
    repository: { type: "git", url: `git+${REPOSITORY}.git`, directory: `packages/${dir}` },
    homepage: `${REPOSITORY}/tree/main/packages/${dir}#readme`,
    bugs: { url: `${REPOSITORY}/issues` },
    engines: { node: NODE_ENGINES },
  };
}

for (const dir of readdirSync(join(root, "packages")).sort()) {
  const pkgPath = join(root, "packages", dir, "package.json");
  if (!existsSync(pkgPath)) continue;
  const text = readFileSync(pkgPath, "utf8");
  const pkg = JSON.parse(text);
  if (pkg.private === true) continue;
  const where = `packages/${dir}`;

  let changed = false;
  for (const [field, value] of Object.entries(expectedFields(dir))) {
    if (JSON.stringify(pkg[field]) === JSON.stringify(value)) continue;
    if (fix) {
      pkg[field] = value;
      changed = true;
    } else {
      problems.push(`${where}/package.json: "${field}" should be ${JSON.stringify(value)}`);
    }
  }
  if (!Array.isArray(pkg.files) || !pkg.files.includes("LICENSE")) {
    if (fix) {
      pkg.files = [...(pkg.files ?? []), "LICENSE"];
      changed = true;
    } else {
      problems.push(`${where}/package.json: "files" should list LICENSE`);
    }
  }
  if (changed) writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);

  const licensePath = join(root, "packages", dir, "LICENSE");
  if (!existsSync(licensePath) || readFileSync(licensePath, "utf8") !== rootLicense) {
    if (fix) copyFileSync(join(root, "LICENSE"), licensePath);
    else problems.push(`${where}/LICENSE: missing or different from the root LICENSE`);
  }

  const readmePath = join(root, "packages", dir, "README.md");
  if (!existsSync(readmePath)) {
    problems.push(`${where}/README.md: missing`);
    continue;
  }
  const readme = readFileSync(readmePath, "utf8");
  const install = new RegExp(`npm install(?: --?[a-z-]+)* ${pkg.name.replace("/", "\\/")}(?:\\s|$)`);
  if (!install.test(readme)) problems.push(`${where}/README.md: no install line "npm install ${pkg.name}"`);
  if (!readme.includes("Node.js 22.12")) problems.push(`${where}/README.md: does not state the minimum Node version (Node.js 22.12)`);
  // Markdown links and images whose target is neither absolute nor an in-page anchor.
  for (const match of readme.matchAll(/\]\(([^)\s]+)[^)]*\)/g)) {
    const target = match[1];
    if (!/^(?:https?:|mailto:|#)/.test(target)) problems.push(`${where}/README.md: relative link ${target} (dead on the registry page; use ${REPOSITORY}/...)`);
  }
}

if (problems.length > 0) {
  console.error(`check-packages: ${problems.length} problem(s) in published packages:\n  ${problems.join("\n  ")}`);
  console.error("Metadata and LICENSE: run `node scripts/check-packages.mjs --fix`; README lines: edit the README.");
  process.exit(1);
}
console.log(fix ? "check-packages: fixed metadata and LICENSE files" : "check-packages: every published package is complete");
