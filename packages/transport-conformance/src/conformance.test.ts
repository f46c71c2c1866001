import { describe, expect, inject, it } from "vitest";
import { describeTransportConformance } from "./index.js";
import { CONFORMANCE_SERVER_KEY, conformanceCases, ConformanceFailure } from "./cases/index.js";
import { referenceTransport, type Flaws } from "./test-support/reference-transport.js";

// A correct transport passes every case, through the vitest entry and the server from `inject`.
describeTransportConformance("reference node:http transport", ({ auth }) => referenceTransport(auth), {
  capabilities: { uploadProgress: true },
  largeBodyBytes: 16 * 1024 * 1024,
});

/** Each flaw, and a fragment of the name of a case that must catch it. */
const flaws: readonly { flaw: Flaws; caughtBy: string }[] = [
  { flaw: { followRedirects: true }, caughtBy: "a 302 pointing to another origin" },
  { flaw: { followRedirects: true }, caughtBy: "a 308 with a Location" },
  { flaw: { noResponseLimit: true }, caughtBy: "oversized response body (chunked" },
  { flaw: { noResponseLimit: true }, caughtBy: "oversized response body (declared" },
  { flaw: { reverseViews: true }, caughtBy: "writes body views in order" },
  { flaw: { reverseViews: true }, caughtBy: "protocol: many body views" },
  { flaw: { writeWholeBuffers: true }, caughtBy: "writes body views in order" },
  { flaw: { urlInErrors: true }, caughtBy: "connection is refused" },
  { flaw: { urlInErrors: true }, caughtBy: "protocol: rejects (kind \"network\") on return-reset-connection" },
  { flaw: { alwaysCredentials: true }, caughtBy: "no authorization header" },
  { flaw: { neverCredentials: true }, caughtBy: "auth returns a plain record" },
  { flaw: { noRefresh: true }, caughtBy: "refreshes the auth source" },
  { flaw: { ignoreAbort: true }, caughtBy: "signal is already aborted" },
  { flaw: { rawHeaderNames: true }, caughtBy: "lower-case names" },
  { flaw: { lastRepeatedHeaderOnly: true }, caughtBy: "repeated ones joined" },
  { flaw: { decodePerRead: true }, caughtBy: "UTF-8 response body" },
  { flaw: { acceptShortBodies: true }, caughtBy: "shorter than its content-length" },
  { flaw: { everythingIsNetwork: true }, caughtBy: "kind \"aborted\" and releases the connection when the signal aborts after the response headers" },
  { flaw: { everythingIsNetwork: true }, caughtBy: "kind \"auth\"" },
  { flaw: { chunkedBodies: true }, caughtBy: "writes body views in order" },
  { flaw: { noProgress: true }, caughtBy: "reports cumulative upload progress" },
  { flaw: { wrongVersion: true }, caughtBy: "declares contract version 2" },
];

describe("the suite catches a transport that breaks a rule", () => {
  for (const { flaw, caughtBy } of flaws) {
    it(`${Object.keys(flaw).join(", ")} fails "${caughtBy}"`, async () => {
      const cases = conformanceCases({
        makeTransport: ({ auth }) => referenceTransport(auth, flaw),
        server: inject(CONFORMANCE_SERVER_KEY),
        capabilities: { uploadProgress: true },
        largeBodyBytes: 1024 * 1024,
      });
      const matching = cases.filter((c) => c.name.includes(caughtBy));
      expect(matching.length, `no case named like "${caughtBy}"`).toBe(1);
      await expect(matching[0]!.run()).rejects.toBeInstanceOf(ConformanceFailure);
    });
  }
});
