import { describe, expect, it } from "vitest";
import { EndpointError, resolveEndpoint } from "./endpoint.js";

describe("resolveEndpoint", () => {
  it("defaults to storage.googleapis.com over https with auth", () => {
    expect(resolveEndpoint({ env: {} })).toEqual({ url: "https://storage.googleapis.com", insecure: false, sendAuth: true });
  });

  it("reads STORAGE_EMULATOR_HOST, bare host:port meaning http, and sends no credentials there", () => {
    expect(resolveEndpoint({ env: { STORAGE_EMULATOR_HOST: "127.0.0.1:9023" } })).toEqual({
      url: "http://127.0.0.1:9023",
      insecure: true,
      sendAuth: false,
    });
    expect(resolveEndpoint({ env: { STORAGE_EMULATOR_HOST: "http://localhost:4443/" } }).url).toBe("http://localhost:4443");
  });

  it("prefers an explicit apiEndpoint, then the emulator host, then the universe domain", () => {
    const env = { STORAGE_EMULATOR_HOST: "localhost:1" };
    expect(resolveEndpoint({ env, apiEndpoint: "https://gcs.example.com" }).url).toBe("https://gcs.example.com");
    expect(resolveEndpoint({ env, universeDomain: "example.goog" }).url).toBe("http://localhost:1");
    expect(resolveEndpoint({ env: {}, universeDomain: "example.goog" }).url).toBe("https://storage.example.goog");
  });

  it("refuses plain http to a non-loopback host unless allowed, and keeps credentials home unless asked", () => {
    expect(() => resolveEndpoint({ env: {}, apiEndpoint: "http://10.0.0.5:9000" })).toThrow(EndpointError);
    expect(resolveEndpoint({ env: {}, apiEndpoint: "http://10.0.0.5:9000", allowInsecureHttp: true }).sendAuth).toBe(false);
    expect(resolveEndpoint({ env: {}, apiEndpoint: "http://[::1]:9000", authOverHttp: true }).sendAuth).toBe(true);
  });

  it("rejects endpoints that are not plain http(s) origins", () => {
    for (const apiEndpoint of ["ftp://x", "not a url", "https://user:pw@host", "https://host/?q=1"]) {
      expect(() => resolveEndpoint({ env: {}, apiEndpoint }), apiEndpoint).toThrow(EndpointError);
    }
  });
});
