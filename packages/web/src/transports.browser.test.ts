/**
 * Both transports in real Chromium: the XMLHttpRequest transport's cases and upload progress, and
 * what a page sees when the bucket's CORS configuration is wrong (a CorsError naming CORS, never a
 * silent "0 bytes persisted") versus a real network failure.
 */
import { describe, expect, inject, it } from "vitest";
import { type Transport, TransportError, type TransportRequest, type TransportSendOptions } from "@resumable-gcs/core";
import { CorsError, isCorsError } from "./cors.js";
import { createFetchTransport } from "./fetch-transport.js";
import { generated } from "./test-support/data.js";
import { startSession, throughCorsProxy, uniqueName } from "./test-support/emulator-client.js";
import { transportCases } from "./test-support/transport-cases.js";
import { registerCases } from "./test-support/vitest-suite.js";
import { createXhrTransport } from "./xhr-transport.js";

const environment = () => ({ emulatorUrl: inject("emulatorUrl"), bucket: inject("bucket") });
const sendOptions = (overrides: Partial<TransportSendOptions> = {}): TransportSendOptions => ({ signal: new AbortController().signal, credentials: false, maxResponseBytes: 1 << 20, ...overrides });
const query = (url: string): TransportRequest => ({ method: "PUT", url, headers: { "content-range": "bytes */*", "content-length": "0" }, body: [], bodyLength: 0 });

describe("XMLHttpRequest transport in Chromium", () => {
  registerCases("chromium", transportCases("xhr", (options) => createXhrTransport(options)), environment);

  it("reports cumulative upload progress up to the body length, and says so in its capabilities", async () => {
    const transport = createXhrTransport();
    expect(transport.capabilities.uploadProgress).toBe(true);
    expect(createFetchTransport().capabilities.uploadProgress).toBe(false);
    const { emulatorUrl, bucket } = environment();
    const session = await startSession(emulatorUrl, bucket, uniqueName("xhr"));
    const size = 4 * 256 * 1024;
    const seen: number[] = [];
    const response = await transport.send(
      { method: "PUT", url: session, headers: { "content-range": `bytes 0-${size - 1}/*`, "content-length": String(size) }, body: [generated(size, 9)], bodyLength: size },
      sendOptions({ onUploadProgress: (sent) => seen.push(sent) }),
    );
    expect(response.status).toBe(308);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((value, i) => i === 0 || value >= seen[i - 1]!)).toBe(true);
    expect(seen.at(-1)).toBe(size);
  });
});

describe.each<[string, () => Transport]>([
  ["fetch", () => createFetchTransport()],
  ["xhr", () => createXhrTransport()],
])("CORS failures through the %s transport", (_label, create) => {
  it("a 308 whose headers the bucket does not expose is a CorsError naming CORS and the headers to expose", async () => {
    const { emulatorUrl, bucket } = environment();
    const session = await startSession(emulatorUrl, bucket, uniqueName("cors"));
    const error = await create().send(query(throughCorsProxy(session, inject("corsProxyUrl"), "hide-headers")), sendOptions()).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(CorsError);
    expect(isCorsError(error)).toBe(true);
    const cors = error as CorsError;
    expect(cors.kind).toBe("network");
    expect(cors.code).toBe("CORS");
    expect(cors.origin).toBe(location.origin);
    expect(cors.message).toMatch(/^CORS: the browser hid the response headers/);
    expect(cors.message).toContain("Range");
    expect(cors.message).toContain(location.origin);
    expect(cors.message).not.toContain("upload_id=" + new URL(session).searchParams.get("upload_id"));
  });

  it("with corsHeaderCheck: false the same 308 comes back as it is (for GCS-like servers without X-GUploader-UploadID)", async () => {
    const { emulatorUrl, bucket } = environment();
    const session = await startSession(emulatorUrl, bucket, uniqueName("cors"));
    const transport = _label === "fetch" ? createFetchTransport({ corsHeaderCheck: false }) : createXhrTransport({ corsHeaderCheck: false });
    const response = await transport.send(query(throughCorsProxy(session, inject("corsProxyUrl"), "hide-headers")), sendOptions());
    expect(response.status).toBe(308);
    expect(response.headers["range"]).toBeUndefined();
    expect(response.headers["x-guploader-uploadid"]).toBeUndefined();
  });

  it("a refused preflight is a CorsError (the server is reachable), not a network error", async () => {
    const { emulatorUrl, bucket } = environment();
    const session = await startSession(emulatorUrl, bucket, uniqueName("cors"));
    const error = await create().send(query(throughCorsProxy(session, inject("corsProxyUrl"), "refuse-preflight")), sendOptions()).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(CorsError);
    expect((error as CorsError).message).toMatch(/^CORS: the browser refused PUT/);
  });

  it("a refused connection stays a plain network error (no CORS claim)", async () => {
    const error = await create().send(query(`${inject("closedPortUrl")}/upload?upload_id=x`), sendOptions()).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(TransportError);
    expect(isCorsError(error)).toBe(false);
    expect((error as TransportError).kind).toBe("network");
  });
});
