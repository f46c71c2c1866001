import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { routes } from "../wire.js";
import { startConformanceServer, type ConformanceServer } from "./conformance-server.js";

// Browser transports run the same cases, so every answer must be readable cross-origin.
const origin = "http://localhost:5173";
let server: ConformanceServer;
beforeAll(async () => {
  server = await startConformanceServer();
});
afterAll(() => server.stop());

describe("conformance server CORS", () => {
  it("answers a preflight for any method and the headers asked for", async () => {
    const response = await fetch(`${server.url}${routes.respond}?status=308`, {
      method: "OPTIONS",
      headers: { Origin: origin, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "authorization,content-range,x-goog-hash" },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(origin);
    expect(response.headers.get("access-control-allow-methods")).toContain("PUT");
    expect(response.headers.get("access-control-allow-headers")).toBe("authorization,content-range,x-goog-hash");
  });

  it("exposes the protocol's headers (Range, Location, ETag, x-goog-hash) and the cases' own", async () => {
    const response = await fetch(`${server.url}${routes.respond}?status=200&h=Range:bytes%3D0-1`, { headers: { Origin: origin } });
    expect(response.headers.get("access-control-allow-origin")).toBe(origin);
    const exposed = (response.headers.get("access-control-expose-headers") ?? "").toLowerCase().split(", ");
    for (const name of ["range", "location", "etag", "x-goog-hash", "x-guploader-uploadid", "x-conformance-repeated", "x-conformance-mixed-case"]) expect(exposed).toContain(name);
    // As GCS does on every upload response: lets a page tell a hidden Range from an absent one.
    expect(response.headers.get("x-guploader-uploadid")).toMatch(/^conformance-\d+$/);
  });

  it("puts CORS headers on the hand-written responses too (cut bodies)", async () => {
    const response = await fetch(`${server.url}${routes.short}`, { headers: { Origin: origin } });
    expect(response.headers.get("access-control-allow-origin")).toBe(origin);
    await expect(response.text()).rejects.toThrow();
  });

  it("serves the redirect target on another origin, with CORS as well", async () => {
    expect(new URL(server.otherOriginUrl).origin).not.toBe(new URL(server.url).origin);
    const response = await fetch(`${server.otherOriginUrl}/elsewhere?id=cors-check`, { headers: { Origin: origin } });
    expect(response.headers.get("access-control-allow-origin")).toBe(origin);
    expect(await response.json()).toEqual({ followed: true });
  });
});

describe("conformance server records", () => {
  it("records what arrived and whether the connection closed", async () => {
    const response = await fetch(`${server.url}${routes.respond}?status=201&id=record-check`, { method: "PUT", body: "abc", headers: { "X-Check": "yes" } });
    expect(response.status).toBe(201);
    const record = (await (await fetch(`${server.url}${routes.record}?id=record-check`)).json()) as Record<string, unknown>;
    expect(record).toMatchObject({ arrived: true, method: "PUT", bodyBytes: 3, bodyComplete: true, responseStarted: true });
    expect((record["headers"] as Record<string, string>)["x-check"]).toBe("yes");
    const unknown = (await (await fetch(`${server.url}${routes.record}?id=never-sent`)).json()) as Record<string, unknown>;
    expect(unknown["arrived"]).toBe(false);
  });

  it("refuses connections at refusedUrl, and runs an emulator at emulatorUrl", async () => {
    await expect(fetch(server.refusedUrl)).rejects.toThrow();
    const bucket = await fetch(`${server.emulatorUrl}/storage/v1/b`, { method: "POST", body: JSON.stringify({ name: "server-check" }), headers: { "content-type": "application/json" } });
    expect(bucket.status).toBe(200);
  });

  it("stops idempotently and closes both listeners", async () => {
    const other = await startConformanceServer();
    await Promise.all([other.stop(), other.stop()]);
    await expect(fetch(`${other.url}${routes.record}?id=x`)).rejects.toThrow();
    await expect(fetch(other.otherOriginUrl)).rejects.toThrow();
  });
});
