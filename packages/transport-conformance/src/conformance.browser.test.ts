import { describeTransportConformance } from "./index.js";
import { referenceFetchTransport } from "./test-support/reference-fetch-transport.js";

// Real Chromium: the page is on vitest's origin, the conformance server (started by globalSetup in
// Node) on 127.0.0.1, so every case is a cross-origin exchange through CORS; the server's addresses
// arrive through `inject`. Browser fetch follows redirects itself: the redirect cases check that it
// carried no credentials to the other origin.
describeTransportConformance("reference fetch transport in Chromium", ({ auth }) => referenceFetchTransport(auth), {
  capabilities: { uploadProgress: false },
  redirects: "followed",
  largeBodyBytes: 16 * 1024 * 1024,
});
