/**
 * The emulator over HTTP, as the web suite uses it in every runtime (the workspace's shared helpers
 * in `@resumable-gcs/test-utils/emulator-http`), plus routing through the test CORS proxy.
 */
export { ensureBucket, faultStatus, objectBytes, objectMetadata, registerFaults, startSession, uniqueName } from "@resumable-gcs/test-utils/emulator-http";

/** The ways the test CORS proxy (cors-proxy.ts, in Node) breaks CORS. */
export type CorsFault = "hide-headers" | "refuse-preflight";

/** The same URL (a session URI, an upload URL), routed through the CORS proxy with `fault`. */
export function throughCorsProxy(url: string, proxyUrl: string, fault: CorsFault): string {
  const parsed = new URL(url);
  return `${proxyUrl}/${fault}${parsed.pathname}${parsed.search}`;
}
