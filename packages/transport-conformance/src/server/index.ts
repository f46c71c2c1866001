/**
 * `@resumable-gcs/transport-conformance/server`: the live loopback server the cases run against
 * (Node only), and a vitest `globalSetup` that starts it and provides its addresses to the tests,
 * browser-mode tests included.
 */
import { CONFORMANCE_SERVER_KEY, type ConformanceServerInfo } from "../wire.js";
import { startConformanceServer } from "./conformance-server.js";

export { startConformanceServer, type ConformanceServer, type ConformanceServerOptions } from "./conformance-server.js";
export { CONFORMANCE_SERVER_KEY, type ConformanceServerInfo } from "../wire.js";

/** The part of vitest's global-setup context {@link setup} uses. */
export interface ProvideContext {
  /** Makes `value` readable with `inject(key)` in every test file. */
  provide(key: typeof CONFORMANCE_SERVER_KEY, value: ConformanceServerInfo): void;
}

/**
 * A vitest `globalSetup`: starts a conformance server in Node, provides its addresses under
 * {@link CONFORMANCE_SERVER_KEY} (what `describeTransportConformance` reads by default), and returns
 * the teardown that stops it.
 *
 * @example
 * ```ts
 * // conformance.setup.ts, listed in vitest.config.ts as `test.globalSetup`
 * export { setup } from "@resumable-gcs/transport-conformance/server";
 * ```
 */
export async function setup(context: ProvideContext): Promise<() => Promise<void>> {
  const server = await startConformanceServer();
  context.provide(CONFORMANCE_SERVER_KEY, server.info);
  return () => server.stop();
}
