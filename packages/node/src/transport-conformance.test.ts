import { describeTransportConformance } from "@resumable-gcs/transport-conformance";
import { startConformanceServer, type ConformanceServer } from "@resumable-gcs/transport-conformance/server";
import { afterAll, beforeAll } from "vitest";
import { createGaxiosTransport } from "./gaxios-transport.js";
import { createHttpTransport } from "./http-transport.js";

// The published suite, against its loopback server (synthetic routes plus an emulator).
let server: ConformanceServer;
beforeAll(async () => {
  server = await startConformanceServer();
});
afterAll(() => server.stop());

const options = { capabilities: { uploadProgress: true }, server: () => server.info } as const;
describeTransportConformance("gaxios transport", ({ auth }) => createGaxiosTransport({ auth }), options);
describeTransportConformance("node:http transport", ({ auth }) => createHttpTransport({ auth }), options);
