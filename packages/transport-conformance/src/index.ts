/**
 * @resumable-gcs/transport-conformance: the suite every Transport (contract v2 of
 * `@resumable-gcs/core`) passes, against a live loopback server. This entry is for vitest; the same
 * cases for any runner are at `./cases`, the server at `./server`.
 */
export { describeTransportConformance, type DescribeConformanceOptions } from "./vitest.js";
export {
  CONFORMANCE_SERVER_KEY,
  ConformanceFailure,
  conformanceCases,
  type ConformanceCase,
  type ConformanceOptions,
  type ConformanceServerInfo,
  type MakeTransport,
  type TransportFactoryContext,
} from "./cases/index.js";

/** The npm name of this package, for diagnostics. */
export const packageName = "@resumable-gcs/transport-conformance";
