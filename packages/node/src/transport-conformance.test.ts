import { startEmulator, type Emulator } from "@resumable-gcs/emulator";
import { afterAll, beforeAll, describe, it } from "vitest";
import { createGaxiosTransport } from "./gaxios-transport.js";
import { createHttpTransport } from "./http-transport.js";
import { transportConformanceCases } from "./test-support/transport-conformance.js";

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ buckets: ["conformance-bucket"] });
});
afterAll(async () => {
  await emulator.stop();
});

const http = createHttpTransport();
afterAll(() => http.close());

const transports = [
  { name: "gaxios transport", transport: createGaxiosTransport() },
  { name: "node:http transport", transport: http },
];

for (const { name, transport } of transports) {
  describe(`${name} conformance`, () => {
    // The cases need the emulator URL, known only once it started: build them lazily per test.
    const names = transportConformanceCases({ transport, baseUrl: "http://unused" }).map((c) => c.name);
    names.forEach((caseName, index) => {
      it(caseName, async () => {
        const cases = transportConformanceCases({ transport, baseUrl: emulator.url, reportsUploadProgress: true });
        await cases[index]!.run();
      });
    });
  });
}
