/**
 * Global setup for the Chromium project: the emulator runs here, in Node, on 127.0.0.1; its URL is
 * handed to the tests in the page with `provide` (read there with `inject("emulatorUrl")`). The page
 * is served from another origin (vitest's server on localhost), so every request is a real
 * cross-origin request with CORS, as in production.
 */
import { startEmulator } from "@resumable-gcs/emulator";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** The emulator's base URL. */
    emulatorUrl: string;
    /** A bucket that exists on it. */
    bucket: string;
  }
}

/** Starts the emulator for the browser tests; the returned function stops it. */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const bucket = "web-browser";
  const emulator = await startEmulator({ buckets: [bucket] });
  project.provide("emulatorUrl", emulator.url);
  project.provide("bucket", bucket);
  return () => emulator.stop();
}
