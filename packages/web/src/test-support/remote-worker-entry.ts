/**
 * Entry point of the suite bundle for workerd (through Miniflare): a POST with the environment as
 * JSON runs the cases and answers with every result as a JSON array.
 */
import { remoteCases, runCases, type SuiteEnvironment } from "./suite.js";

/** The Worker's handlers (workerd's module syntax wants a default export). */
// eslint-disable-next-line no-restricted-syntax -- the Workers module format requires a default export
export default {
  async fetch(request: Request): Promise<Response> {
    const environment = (await request.json()) as SuiteEnvironment & { only?: string[] };
    const all = remoteCases(environment);
const cases = environment.only === undefined ? all : all.filter((testCase) => environment.only!.includes(testCase.name));
    const results = await runCases(environment, cases);
    return new Response(JSON.stringify(results), { headers: { "content-type": "application/json" } });
  },
};
