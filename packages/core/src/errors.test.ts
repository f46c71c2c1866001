import { describe, expect, it } from "vitest";
import { UploadError, UsageError, ValidationError, redactSessionUri, redactUploadId, uploadErrorCodes, uploadIdOf } from "./errors.js";

describe("UploadError", () => {
  it("carries code, retryable, status, server message, cause and a redacted session id", () => {
    const cause = new Error("socket hang up");
    const error = new UploadError("session-expired", "gone", {
      status: 410,
      serverMessage: "expired",
      cause,
      sessionUri: "https://storage.googleapis.com/upload/storage/v1/b/b/o?uploadType=resumable&upload_id=ABCDEFGHIJKLMNOPxyz",
    });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: "UploadError", code: "session-expired", retryable: false, status: 410, serverMessage: "expired", sessionId: "ABCD…yz" });
    expect(error.cause).toBe(cause);
    expect(JSON.stringify(error)).not.toContain("ABCDEFGHIJKLMNOPxyz");
  });

  it("defaults retryable by code and lets callers override it", () => {
    const retryable = uploadErrorCodes.filter((code) => new UploadError(code, "x").retryable);
    expect(retryable).toEqual(["transient", "retries-exhausted", "deadline-exceeded", "aborted"]);
    expect(new UploadError("bad-request", "x", { retryable: true }).retryable).toBe(true);
    expect(uploadErrorCodes).toHaveLength(19);
    expect(new UploadError("auth", "no credentials").retryable).toBe(false);
  });

  it("has usage and validation subclasses", () => {
    const usage = new UsageError("write() after end()");
    expect(usage).toBeInstanceOf(UploadError);
    expect(usage).toMatchObject({ name: "UsageError", code: "usage", retryable: false });
    const invalid = new ValidationError("target.bucket", "expected 3 to 63 characters, came 2");
    expect(invalid).toBeInstanceOf(UploadError);
    expect(invalid).toMatchObject({ name: "ValidationError", code: "invalid-argument", field: "target.bucket", message: "target.bucket: expected 3 to 63 characters, came 2" });
    expect(new UploadError("usage", "no cause").cause).toBeUndefined();
  });
});

describe("redaction", () => {
  it("keeps the first 4 and last 2 characters of an upload id", () => {
    expect(redactUploadId("ADPycdvR7x9ZqLongSecretToken42")).toBe("ADPy…42");
    expect(redactUploadId("short")).toBe("…");
  });

  it("redacts upload_id and signatures, keeping scheme, host, path and other parameters", () => {
    expect(redactSessionUri("https://storage.googleapis.com/upload/storage/v1/b/bkt/o?uploadType=resumable&name=a%2Fb&upload_id=ADPycdvR7x9ZqLongSecretToken42")).toBe(
      "https://storage.googleapis.com/upload/storage/v1/b/bkt/o?uploadType=resumable&name=a%2Fb&upload_id=ADPy…42",
    );
    expect(redactSessionUri("https://storage.googleapis.com/bkt/obj?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=sa%40p&X-Goog-Signature=abcdef#frag")).toBe(
      "https://storage.googleapis.com/bkt/obj?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=…&X-Goog-Signature=…",
    );
    expect(redactSessionUri("http://localhost:9000/no-query")).toBe("http://localhost:9000/no-query");
    expect(redactSessionUri("http://h/p?flag&upload_id=0123456789")).toBe("http://h/p?flag&upload_id=0123…89");
  });

  it("finds the upload id", () => {
    expect(uploadIdOf("http://h/p?a=1&upload_id=xyz&b=2")).toBe("xyz");
    expect(uploadIdOf("http://h/p?a=1")).toBeUndefined();
    expect(uploadIdOf("http://h/p")).toBeUndefined();
  });
});
