import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.js";
import { assertMultipartApplicable, singleRequestApplies, wantsMultipart } from "./applicability.js";

function fieldOf(run: () => void): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).field;
  }
  throw new Error("expected a ValidationError");
}

describe("engine choice", () => {
  it("refuses, naming the option, what the multipart engine cannot honour", () => {
    expect(wantsMultipart({ parallelism: 4 })).toBe(true);
    expect(wantsMultipart({})).toBe(false);
    const metadata = { contentType: "text/plain", metadata: { a: "b" } };
    expect(() => assertMultipartApplicable({ parallelism: 4, checksum: "both", metadata })).not.toThrow();
    expect(fieldOf(() => assertMultipartApplicable({ parallelism: 4, sessionUri: "https://x/y?upload_id=z" }))).toBe("sessionUri");
    expect(fieldOf(() => assertMultipartApplicable({ parallelism: 4, signedUrl: "https://x/y?X-Goog-Signature=s" }))).toBe("signedUrl");
    expect(fieldOf(() => assertMultipartApplicable({ parallelism: 4, ifGenerationNotMatch: 3 }))).toBe("ifGenerationNotMatch");
    expect(fieldOf(() => assertMultipartApplicable({ parallelism: 4, metadata: { eventBasedHold: true } }))).toBe("metadata.eventBasedHold");
    expect(fieldOf(() => assertMultipartApplicable({ parallelism: 4, metadata: { md5Hash: "x" } }))).toBe("metadata.md5Hash");
    expect(fieldOf(() => assertMultipartApplicable({ parallelism: 4, checksum: "md5" }))).toBe("checksum");
  });

  it("chooses one request for a bucket/object target unless opted out", () => {
    expect(singleRequestApplies({})).toBe(true);
    expect(singleRequestApplies({ singleRequest: "never" })).toBe(false);
    expect(singleRequestApplies({ sessionUri: "https://x/y?upload_id=z" })).toBe(false);
    expect(singleRequestApplies({ signedUrl: "https://x/y" })).toBe(false);
    expect(fieldOf(() => singleRequestApplies({ singleRequest: "always" }))).toBe("singleRequest");
  });
});
