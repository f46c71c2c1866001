/**
 * Entry point of the suite bundle for Deno and Bun: the environment comes as JSON in the first
 * argument; each result is printed as one line, `RESULT_PREFIX` + JSON, as soon as its case ends.
 */
import { RESULT_PREFIX, runCases, type SuiteEnvironment } from "./case.js";
import { suiteCases } from "./suite.js";

const runtimeArgs = (globalThis as { Deno?: { args: string[] } }).Deno?.args ?? (globalThis as { process?: { argv: string[] } }).process?.argv.slice(2) ?? [];
const environment = JSON.parse(runtimeArgs[0] ?? "{}") as SuiteEnvironment;
await runCases(environment, suiteCases, (result) => console.log(RESULT_PREFIX + JSON.stringify(result)));
