import { describe, expect, it } from "vitest";
import { ValidationError } from "./errors.js";
import { options } from "./harness.test-utils.js";
import type { UploadOptions } from "./options.js";
import { bucketNameProblem, fingerprintOf, objectNameProblem, resolveOptions } from "./resolve-options.js";

function fieldOf(opts: UploadOptions): string {
  try {
    resolveOptions(opts);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe("invalid-argument");
    return (error as ValidationError).field;
  }
  throw new Error("expected a ValidationError");
}

describe("bucket names", () => {
  it.each(["abc", "my-bucket", "my_bucket", "a1b2c3", "bucket.example.com", "a".repeat(63), `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(29)}`, "1bucket", "bucket9"])(
    "accepts %s",
    (name) => expect(bucketNameProblem(name)).toBeUndefined(),
  );

  it.each([
    ["ab", "3 to 63"],
    ["a".repeat(64), "3 to 63"],
    [`${"a".repeat(64)}.com`, "each dot-separated part"],
    [`${"a.".repeat(111)}ab`, "3 to 222"],
    ["My-Bucket", "lowercase"],
    ["bucket!", "lowercase"],
    ["bücket", "lowercase"],
    ["-bucket", "start and end"],
    ["bucket_", "start and end"],
    [".bucket", "start and end"],
    ["a..b", "each dot-separated part"],
    ["goog-bucket", "goog"],
    ["my-google-bucket", "google"],
    ["192.168.5.4", "IP address"],
  ])("refuses %s (%s)", (name, why) => {
    expect(bucketNameProblem(name)).toContain(why);
  });

  it("refuses a non-string", () => expect(bucketNameProblem(42)).toContain("expected a string"));
});

describe("object names", () => {
  it.each(["a", "dir/file.txt", "ü/😀", "x".repeat(1024), "é".repeat(512), "...", ".well-known/other", " spaces "])("accepts %s", (name) => {
    expect(objectNameProblem(name)).toBeUndefined();
  });

  it.each([
    ["", "empty"],
    ["x".repeat(1025), "1024 bytes"],
    ["é".repeat(513), "came 1026"],
    ["a\nb", "line feed"],
    ["a\rb", "carriage return"],
    [".", "other than"],
    ["..", "other than"],
    [".well-known/acme-challenge/token", "acme-challenge"],
    ["bad\ud800", "lone surrogate"],
  ])("refuses %j (%s)", (name, why) => {
    expect(objectNameProblem(name)).toContain(why);
  });
});

describe("resolveOptions", () => {
  it("fills in the defaults", () => {
    const resolved = resolveOptions({ target: { kind: "json", bucket: "bkt", name: "obj" }, random: () => 0.5 });
    expect(resolved).toMatchObject({
      target: { kind: "json", endpoint: "https://storage.googleapis.com", bucket: "bkt", name: "obj", metadata: {}, query: [] },
      chunkSize: 8 * 1024 * 1024,
      retry: { initialDelayMs: 1000, maxDelayMs: 32_000, multiplier: 2, jitter: "equal", maxAttempts: 10, deadlineMs: 300_000, idleTimeoutMs: 60_000 },
      checksum: "none",
      commonHeaders: {},
    });
    expect(resolved.totalSize).toBeUndefined();
    expect(resolveOptions(options()).checksum).toBe("crc32c"); // a CRC32C provider makes it the default
  });

  it.each([0, -262144, 100, 262_143, 262_144 * 1.5, Number.NaN, Infinity, "262144"])("refuses chunk size %s", (chunkSize) => {
    expect(fieldOf(options({ chunkSize: chunkSize as number }))).toBe("chunkSize");
  });

  it.each([262_144, 524_288, 8 * 1024 * 1024, 64 * 262_144])("accepts chunk size %i", (chunkSize) => {
    expect(resolveOptions(options({ chunkSize })).chunkSize).toBe(chunkSize);
  });

  it("names the field at fault", () => {
    const cases: [Partial<UploadOptions>, string][] = [
      [{ target: undefined }, "target"],
      [{ target: { kind: "xml" } as never }, "target.kind"],
      [{ target: { kind: "json", bucket: "B", name: "o" } }, "target.bucket"],
      [{ target: { kind: "json", bucket: "bkt", name: "" } }, "target.name"],
      [{ target: { kind: "json", bucket: "bkt", name: "o", endpoint: "storage.googleapis.com" } }, "target.endpoint"],
      [{ target: { kind: "json", bucket: "bkt", name: "o", endpoint: "https://h/?x=1" } }, "target.endpoint"],
      [{ target: { kind: "json", bucket: "bkt", name: "o", ifGenerationMatch: -1 } }, "target.ifGenerationMatch"],
      [{ target: { kind: "json", bucket: "bkt", name: "o", ifMetagenerationMatch: "12a" } }, "target.ifMetagenerationMatch"],
      [{ target: { kind: "json", bucket: "bkt", name: "o", predefinedAcl: "everyone" as never } }, "target.predefinedAcl"],
      [{ target: { kind: "json", bucket: "bkt", name: "o", kmsKeyName: "" } }, "target.kmsKeyName"],
      [{ target: { kind: "json", bucket: "bkt", name: "o", metadata: { contentType: 5 as never } } }, "target.metadata.contentType"],
      [{ target: { kind: "json", bucket: "bkt", name: "o", metadata: { contentType: "a\r\nb" } } }, "target.metadata.contentType"],
      [{ target: { kind: "json", bucket: "bkt", name: "o", metadata: { metadata: { k: 1 as never } } } }, "target.metadata.metadata.k"],
      [{ target: { kind: "json", bucket: "bkt", name: "o", metadata: { crc32c: "AAAA" } } }, "target.metadata.crc32c"],
      [{ target: { kind: "json", bucket: "bkt", name: "o", metadata: { temporaryHold: "yes" as never } } }, "target.metadata.temporaryHold"],
      [{ target: { kind: "signed-url", url: "ftp://x/y" } }, "target.url"],
      [{ target: { kind: "session", sessionUri: "not a url" } }, "target.sessionUri"],
      [{ random: undefined }, "random"],
      [{ totalSize: -1 }, "totalSize"],
      [{ totalSize: 1.5 }, "totalSize"],
      [{ origin: "https://a\r\nb" }, "origin"],
      [{ userAgent: 5 as never }, "userAgent"],
      [{ extraHeaders: { "content-range": "x" } }, "extraHeaders.content-range"],
      [{ extraHeaders: { "X-Goog-Hash": "x" } }, "extraHeaders.X-Goog-Hash"],
      [{ extraHeaders: { "bad header": "x" } }, "extraHeaders.bad header"],
      [{ extraHeaders: { "x-ok": "a\nb" } }, "extraHeaders.x-ok"],
      [{ encryptionKey: { key: "short", sha256: "x" } }, "encryptionKey.key"],
      [{ encryptionKey: { key: Buffer.alloc(32).toString("base64"), sha256: Buffer.alloc(16).toString("base64") } }, "encryptionKey.sha256"],
      [{ retry: { initialDelayMs: -1 } }, "retry.initialDelayMs"],
      [{ retry: { initialDelayMs: 5000, maxDelayMs: 1000 } }, "retry.maxDelayMs"],
      [{ retry: { multiplier: 0.5 } }, "retry.multiplier"],
      [{ retry: { maxAttempts: 0 } }, "retry.maxAttempts"],
      [{ retry: { maxAttempts: 2.5 } }, "retry.maxAttempts"],
      [{ retry: { deadlineMs: 0 } }, "retry.deadlineMs"],
      [{ retry: { idleTimeoutMs: Number.NaN } }, "retry.idleTimeoutMs"],
      [{ retry: { jitter: "random" as never } }, "retry.jitter"],
      [{ checksum: "sha1" as never }, "checksum"],
      [{ checksum: "md5", checksums: { crc32c: () => undefined as never } }, "checksums.md5"],
      [{ checksum: "crc32c", checksums: {} }, "checksums.crc32c"],
    ];
    for (const [overrides, field] of cases) expect(fieldOf(options(overrides)), field).toBe(field);
  });

  it("lower-cases extra header names and strips a trailing slash from the endpoint", () => {
    const resolved = resolveOptions(options({ extraHeaders: { "X-Custom": "1" }, target: { kind: "json", bucket: "bkt", name: "o", endpoint: "http://localhost:4443//" } }));
    expect(resolved.commonHeaders).toEqual({ "x-custom": "1" });
    expect(resolved.target).toMatchObject({ endpoint: "http://localhost:4443" });
  });

  it("fingerprints what must match on restore, deterministically", () => {
    const base = resolveOptions(options());
    expect(resolveOptions(options()).fingerprint).toBe(base.fingerprint);
    expect(resolveOptions(options({ chunkSize: 4 * 262_144, totalSize: 5, userAgent: "x" })).fingerprint).toBe(base.fingerprint);
    expect(resolveOptions(options({ target: { kind: "json", bucket: "bkt", name: "obj2" } })).fingerprint).not.toBe(base.fingerprint);
    const signed = (query: string): string => fingerprintOf({ kind: "signed-url", url: `https://h/b/o?${query}` }, true, undefined);
    expect(signed("X-Goog-Signature=1")).toBe(signed("X-Goog-Signature=2")); // re-signing does not change the upload
    expect(fingerprintOf({ kind: "signed-url", url: "https://h/b/o" }, true, undefined)).not.toBe(fingerprintOf({ kind: "signed-url", url: "https://h/b/p" }, true, undefined));
  });
});
