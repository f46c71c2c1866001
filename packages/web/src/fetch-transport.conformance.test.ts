/** The published transport conformance suite for the fetch transport in Node (global fetch). */
import { describeTransportConformance } from "@resumable-gcs/transport-conformance";
import { type ConformanceServer, startConformanceServer } from "@resumable-gcs/transport-conformance/server";
import { afterAll, beforeAll } from "vitest";
import { createFetchTransport } from "./fetch-transport.js";
import { CONFORMANCE_LARGE_BODY_BYTES } from "./test-support/conformance-cases.js";

let server: ConformanceServer;
beforeAll(async () => {
  server = await startConformanceServer();
});
afterAll(async () => {
  await server?.stop();
});

describeTransportConformance("fetch transport in Node", ({ auth }) => createFetchTransport({ auth }), {
  capabilities: { uploadProgress: false },
  server: () => server.info,
  largeBodyBytes: CONFORMANCE_LARGE_BODY_BYTES,
});
