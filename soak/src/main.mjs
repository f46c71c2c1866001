#!/usr/bin/env node
// `pnpm soak [--uploads N] [--seed S] [--minutes M] [--concurrency C] [--only I,J] [--verbose]`: prints one table; exits 1 on any wrong
// object, hang, contradicting report or untyped failure.
import { parseArgs } from "node:util";
import { formatTable, runSoak } from "./soak.mjs";

const { values } = parseArgs({
  options: { uploads: { type: "string" }, seed: { type: "string" }, minutes: { type: "string" }, concurrency: { type: "string" }, verbose: { type: "boolean" }, only: { type: "string" } },
});
const number = (text, fallback) => (text === undefined ? fallback : Number(text));
const result = await runSoak({
  uploads: number(values.uploads, 300),
  seed: number(values.seed, 1),
  timeLimitMs: number(values.minutes, 10) * 60_000,
  concurrency: number(values.concurrency, 4),
  // --only 12,40: replay those uploads of the seeded plan (to look at one finding alone).
  ...(values.only === undefined ? {} : { only: values.only.split(",").map(Number) }),
  ...(values.verbose ? { onUpload: (line) => console.error(line) } : {}),
});
console.log(formatTable(result));
process.exitCode = result.ok ? 0 : 1;
