/** The behavioural suite in real headless Chromium (vitest browser mode), against the emulator of the global setup. */
import { describe, inject } from "vitest";
import { behaviourCases } from "./test-support/suite.js";
import { registerCases } from "./test-support/vitest-suite.js";

describe("behaviour in Chromium", () => {
  registerCases("chromium", behaviourCases, () => ({ emulatorUrl: inject("emulatorUrl"), bucket: inject("bucket") }));
});
