/**
 * The published transport conformance suite for both transports in real Chromium (server from the
 * global setup). A browser follows a redirect with a `Location` itself (XMLHttpRequest always, fetch
 * unless `redirect: "manual"`, which hides the status), so those cases run as `redirects: "followed"`:
 * they check that the follow carried no credentials instead.
 *
 * The server sends `X-GUploader-UploadID` as GCS does, so the transports run with their CORS
 * hidden-header check on.
 *
 * XMLHttpRequest meets one limit of the platform on one case: see runWithinPlatformLimits.
 */
import { CONFORMANCE_SERVER_KEY, conformanceCases } from "@resumable-gcs/transport-conformance/cases";
import type { Transport } from "@resumable-gcs/core";
import { describe, expect, inject, it } from "vitest";
import { createFetchTransport } from "./fetch-transport.js";
import { CONFORMANCE_LARGE_BODY_BYTES, runWithinPlatformLimits } from "./test-support/conformance-cases.js";
import { createXhrTransport } from "./xhr-transport.js";

describe.each<[string, (auth: Parameters<Parameters<typeof conformanceCases>[0]["makeTransport"]>[0]["auth"]) => Transport, boolean]>([
  ["fetch", (auth) => createFetchTransport({ auth }), false],
  ["xhr", (auth) => createXhrTransport({ auth }), true],
])("%s transport in Chromium: conformance", (label, make, uploadProgress) => {
  const cases = conformanceCases({
    makeTransport: ({ auth }) => make(auth),
    server: () => inject(CONFORMANCE_SERVER_KEY),
    capabilities: { uploadProgress },
    redirects: "followed",
    largeBodyBytes: CONFORMANCE_LARGE_BODY_BYTES,
  });
  it("declares the capabilities the suite checks", () => {
    expect(make({ getRequestHeaders: () => Promise.resolve({}) }).capabilities.uploadProgress).toBe(uploadProgress);
  });
  for (const testCase of cases) it(testCase.name, () => runWithinPlatformLimits(testCase, label as "fetch" | "xhr"), testCase.timeoutMs);
});
