/**
 * `@resumable-gcs/transport-conformance/cases`: the conformance cases for any test runner (Deno,
 * Bun, workerd, a browser, node:test). Runtime-neutral: no `node:` imports, only web-standard globals.
 *
 * @example
 * ```ts
 * import { conformanceCases } from "@resumable-gcs/transport-conformance/cases";
 *
 * for (const testCase of conformanceCases({ makeTransport, server, capabilities: { uploadProgress: false } })) {
 *   Deno.test({ name: testCase.name, fn: () => testCase.run() });
 * }
 * ```
 */
import { Harness, type ConformanceCase, type ConformanceOptions } from "./harness.js";
import { protocolCases } from "./protocol-cases.js";
import { syntheticCases } from "./synthetic-cases.js";

export {
  ConformanceFailure,
  type ConformanceCase,
  type ConformanceOptions,
  type MakeTransport,
  type TransportFactoryContext,
} from "./harness.js";
export { CONFORMANCE_SERVER_KEY, type ConformanceServerInfo } from "../wire.js";

/**
 * Every conformance case for one transport, in a stable order. Each `run()` makes its own transport
 * with `options.makeTransport`, checks one rule against the live conformance server (see
 * `startConformanceServer` in `./server`) and rejects with a {@link ConformanceFailure} naming the
 * rule when the transport breaks it.
 *
 * @param options - the transport factory, the server's addresses and the transport's declared capabilities.
 */
export function conformanceCases(options: ConformanceOptions): ConformanceCase[] {
  const harness = new Harness(options);
  return [...syntheticCases(harness), ...protocolCases(harness)];
}
