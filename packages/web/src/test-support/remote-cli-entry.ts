/**
 * Entry point of the suite bundle for Deno and Bun: the environment comes as JSON in the first
 * argument; each result is printed as one line, `RESULT_PREFIX` + JSON, as soon as its case ends.
 */
import { RESULT_PREFIX } from "./remote-protocol.js";
import { remoteCases, runCases, type SuiteEnvironment } from "./suite.js";

const runtimeArgs = (globalThis as { Deno?: { args: string[] } }).Deno?.args ?? (globalThis as { process?: { argv: string[] } }).process?.argv.slice(2) ?? [];
const environment = JSON.parse(runtimeArgs[0] ?? "{}") as SuiteEnvironment & { only?: string[] };
const all = remoteCases(environment);
const cases = environment.only === undefined ? all : all.filter((testCase) => environment.only!.includes(testCase.name));
await runCases(environment, cases, (result) => console.log(RESULT_PREFIX + JSON.stringify(result)));
