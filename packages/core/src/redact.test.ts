import { describe, expect, it } from "vitest";
import { REDACTED, redact, redactUrl } from "./redact.js";

const SESSION = "https://storage.googleapis.com/upload/storage/v1/b/bkt/o?uploadType=resumable&name=a%2Fb&upload_id=ADPycdvR7x9ZqSecretSecret";

describe("redact", () => {
  it("removes upload ids from URLs, JSON and XML", () => {
    expect(redact(`PUT ${SESSION} failed`)).toBe(
      `PUT https://storage.googleapis.com/upload/storage/v1/b/bkt/o?uploadType=resumable&name=a%2Fb&upload_id=${REDACTED} failed`,
    );
    expect(redact('{"upload_id": "ADPycdvR7x9Zq", "x": 1}')).toBe(`{"upload_id": "${REDACTED}", "x": 1}`);
    expect(redact('{"uploadId":"abc\\"def"}')).toBe(`{"uploadId":"${REDACTED}"}`);
    expect(redact("<UploadId>VXBsb2FkSWQ</UploadId>")).toBe(`<UploadId>${REDACTED}</UploadId>`);
    expect(redact("x?uploadId=VXBsb2FkSWQ&partNumber=2")).toBe(`x?uploadId=${REDACTED}&partNumber=2`);
  });

  it("removes tokens, signatures and credentials", () => {
    expect(redact("authorization: Bearer ya29.a0AfH6SMBx-secret_token")).toBe(`authorization: Bearer ${REDACTED}`);
    expect(redact("token ya29.a0AfH6SMBx-secret seen")).toBe(`token ya29.${REDACTED} seen`);
    expect(redact("?access_token=abc.def&alt=json")).toBe(`?access_token=${REDACTED}&alt=json`);
    expect(redact('{"access_token":"abc","expires_in":3599}')).toBe(`{"access_token":"${REDACTED}","expires_in":3599}`);
    expect(redact("?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=sa%40p.iam%2F20260101&X-Goog-Signature=0a1b2c")).toBe(
      `?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=${REDACTED}&X-Goog-Signature=${REDACTED}`,
    );
  });

  it("removes a customer-supplied key but keeps its SHA-256", () => {
    const key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const sha = "Yf4s6pRUU9UJKdf1yN1+tD0mHHU8xiPa5Xn+tTkw0Pc=";
    expect(redact(`x-goog-encryption-key: ${key}\nx-goog-encryption-key-sha256: ${sha}`)).toBe(
      `x-goog-encryption-key: ${REDACTED}\nx-goog-encryption-key-sha256: ${sha}`,
    );
    expect(redact(`{"x-goog-encryption-key":"${key}"}`)).toBe(`{"x-goog-encryption-key":"${REDACTED}"}`);
  });

  it("leaves text without secrets unchanged", () => {
    const text = "PUT https://storage.googleapis.com/upload/storage/v1/b/bkt/o?uploadType=resumable: 503 backend error";
    expect(redact(text)).toBe(text);
  });
});

describe("redactUrl", () => {
  it("keeps scheme, host, path and harmless parameters; drops user info and fragment", () => {
    expect(redactUrl(SESSION)).toBe(`https://storage.googleapis.com/upload/storage/v1/b/bkt/o?uploadType=resumable&name=a%2Fb&upload_id=${REDACTED}`);
    expect(redactUrl("https://user:pw@h.example/p?q=1#frag")).toBe("https://h.example/p?q=1");
    expect(redactUrl("https://h.example/p?Upload%5Fid=zzz")).toBe(`https://h.example/p?Upload%5Fid=${REDACTED}`);
  });

  it("never throws, and redacts what is not a URL", () => {
    expect(redactUrl("not a url upload_id=abc")).toBe(`not a url upload_id=${REDACTED}`);
    expect(redactUrl("http://h/p?%E0%A4%A=1")).toBe("http://h/p?%E0%A4%A=1");
  });
});
