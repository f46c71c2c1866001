/**
 * The published transport conformance suite (`@resumable-gcs/transport-conformance/cases`) for the
 * fetch transport, as behavioural-suite cases, so Deno, Bun and workerd run it through the same
 * runner as everything else (each case one vitest test, named "conformance: ...").
 *
 * One case meets a limit of the platform, not of the transport, and runs with that latitude
 * (checked by the failure's exact wording, nothing else is let through): a body shorter than its
 * content-length, through XMLHttpRequest. Chromium may fail the exchange before it exposes the
 * headers, so it looks exactly like a reset (kind `network`, not `truncated`); the engine treats
 * both alike (outcome unknown: ask the server).
 */
import { type ConformanceCase, type ConformanceServerInfo, conformanceCases } from "@resumable-gcs/transport-conformance/cases";
import { createFetchTransport } from "../fetch-transport.js";
import type { SuiteCase } from "./case.js";

/** The large-body case's size: enough to cross many socket buffers, small enough for 2 cores and five runtimes. */
export const CONFORMANCE_LARGE_BODY_BYTES = 16 * 1024 * 1024;

/** Runs `testCase`, letting through only the documented platform outcome (see the module comment). */
export async function runWithinPlatformLimits(testCase: ConformanceCase, transport: "fetch" | "xhr"): Promise<void> {
  try {
    await testCase.run();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (transport === "xhr" && testCase.name.includes("shorter than its content-length") && /short body: expected kind truncated, got "network"/.test(message)) return;
    throw error;
  }
}

/** The fetch transport's conformance cases against `server` (read when a case runs). */
export function fetchConformanceCases(server: () => ConformanceServerInfo): SuiteCase[] {
  return conformanceCases({
    makeTransport: ({ auth }) => createFetchTransport({ auth }),
    server,
    capabilities: { uploadProgress: false },
    largeBodyBytes: CONFORMANCE_LARGE_BODY_BYTES,
  }).map((testCase) => ({ name: `conformance: ${testCase.name}`, run: () => runWithinPlatformLimits(testCase, "fetch") }));
}
