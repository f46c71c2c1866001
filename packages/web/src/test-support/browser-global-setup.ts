/**
 * Global setup for the Chromium project: the emulator runs here, in Node, on 127.0.0.1; its URL is
 * handed to the tests in the page with `provide` (read there with `inject("emulatorUrl")`). The page
 * is served from another origin (vitest's server on localhost), so every request is a real
 * cross-origin request with CORS, as in production.
 */
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { startEmulator } from "@resumable-gcs/emulator";
import { CONFORMANCE_SERVER_KEY, startConformanceServer } from "@resumable-gcs/transport-conformance/server";
import type { TestProject } from "vitest/node";
import { startCorsProxy } from "./cors-proxy.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The emulator's base URL. */
    emulatorUrl: string;
    /** A bucket that exists on it. */
    bucket: string;
    /** The CORS-breaking proxy in front of the emulator (see cors-proxy.ts). */
    corsProxyUrl: string;
    /** A loopback URL where nothing listens (a real network failure, for contrast with CORS). */
    closedPortUrl: string;
  }
}

/** Starts the emulator for the browser tests; the returned function stops it. */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const bucket = "web-browser";
  const emulator = await startEmulator({ buckets: [bucket] });
  project.provide("emulatorUrl", emulator.url);
  project.provide("bucket", bucket);
  const proxy = await startCorsProxy(emulator.url);
  project.provide("corsProxyUrl", proxy.url);
  project.provide("closedPortUrl", await closedPortUrl());
  // The conformance suite reads its server's addresses with inject(CONFORMANCE_SERVER_KEY).
  const conformance = await startConformanceServer();
  project.provide(CONFORMANCE_SERVER_KEY, conformance.info);
  return async () => {
    await conformance.stop();
    await proxy.stop();
    await emulator.stop();
  };
}

/** A port that was free a moment ago and is closed now: connecting to it is refused. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
