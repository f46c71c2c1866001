/** The behavioural suite in Node (global fetch), against an emulator in this process. */
import { type Emulator, startEmulator } from "@resumable-gcs/emulator";
import { afterAll, beforeAll, describe } from "vitest";
import { behaviourCases } from "./test-support/suite.js";
import { registerCases } from "./test-support/vitest-suite.js";

const bucket = "web-behaviour";
let emulator: Emulator;

beforeAll(async () => {
  emulator = await startEmulator({ buckets: [bucket] });
});
afterAll(async () => {
  await emulator?.stop();
});

describe("behaviour in Node", () => {
  registerCases("node", behaviourCases, () => ({ emulatorUrl: emulator.url, bucket }));
});
