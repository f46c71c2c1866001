/**
 * The emulator over HTTP, as the iter suite uses it in every runtime: the workspace's shared helpers
 * (`@resumable-gcs/test-utils/emulator-http`), with fault ids carried as the header to send.
 */
import { faultStatus as faultStatusById, registerFaults } from "@resumable-gcs/test-utils/emulator-http";

export { objectBytes, objectMetadata, sessionStatus, uniqueName } from "@resumable-gcs/test-utils/emulator-http";

/** Registers fault instructions for uploads; returns the headers to send on the upload's requests. */
export async function faultHeaders(baseUrl: string, instructions: readonly string[]): Promise<{ "x-retry-test-id": string }> {
  return { "x-retry-test-id": await registerFaults(baseUrl, instructions) };
}

/** What is left of a registered fault list, and whether every instruction was used. */
export function faultStatus(baseUrl: string, headers: { "x-retry-test-id": string }): Promise<{ instructions: Record<string, string[]>; completed: boolean }> {
  return faultStatusById(baseUrl, headers["x-retry-test-id"]);
}
