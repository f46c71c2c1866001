import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator } from "./emulator.js";
import { faultHeaders, useEmulator } from "./fixtures.js";

// The real thing: one emulator for this file, started and stopped by vitest's hooks.
const gcs = useEmulator({ beforeAll, afterAll }, { buckets: ["fixture-bucket"] });

describe("useEmulator", () => {
  it("hands out a running emulator inside tests", async () => {
    expect(gcs.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const bucket = await fetch(`${gcs.url}/storage/v1/b/fixture-bucket`);
    expect(bucket.status).toBe(200);
    expect(gcs.listObjects("fixture-bucket")).toEqual([]);
  });

  it("starts in the first hook, stops in the second, and says so when touched outside them", async () => {
    const hooks: { before?: () => Promise<void>; after?: () => Promise<void> } = {};
    const handle = useEmulator({ beforeAll: (fn) => (hooks.before = fn), afterAll: (fn) => (hooks.after = fn) }, { buckets: ["b-1"] });
    expect(() => handle.url).toThrow(/starts in beforeAll.*"url"/);
    // Resolving the handle as a promise value (`await handle`, a common slip) does not throw: it is not a thenable.
    expect(await Promise.resolve(handle)).toBe(handle);
    await hooks.before!();
    const url = handle.url;
    expect((await fetch(`${url}/storage/v1/b/b-1`)).status).toBe(200);
    await hooks.after!();
    expect(() => handle.getObject("b-1", "x")).toThrow(/stopped in afterAll/);
    await expect(fetch(`${url}/storage/v1/b/b-1`)).rejects.toThrow();
  });
});

describe("faultHeaders", () => {
  it("registers a plain list for storage.objects.insert and returns the header to send", async () => {
    const headers = faultHeaders(gcs, ["start:return-503"]);
    expect(Object.keys(headers)).toEqual(["x-retry-test-id"]);
    const url = `${gcs.url}/upload/storage/v1/b/fixture-bucket/o?uploadType=resumable&name=f`;
    expect((await fetch(url, { method: "POST", headers })).status).toBe(503);
    expect((await fetch(url, { method: "POST", headers })).status).toBe(200);
    expect(gcs.getRetryTest(headers["x-retry-test-id"])).toMatchObject({ completed: true, consumed: { "storage.objects.insert": ["start:return-503"] } });
  });

  it("takes lists per method too, and refuses unknown instructions listing the valid ones", async () => {
    const headers = faultHeaders(gcs, { "storage.buckets.get": ["return-500"] });
    expect((await fetch(`${gcs.url}/storage/v1/b/fixture-bucket`, { headers })).status).toBe(500);
    expect(() => faultHeaders(gcs, ["return-soon"])).toThrow(/Unknown instruction.*return-soon.*Valid instructions/);
  });
});

describe("Symbol.asyncDispose", () => {
  it("stops the emulator at the end of an `await using` scope", async () => {
    let url: string;
    {
      await using emulator = await startEmulator();
      url = emulator.url;
      expect((await fetch(`${url}/`)).status).toBe(200);
    }
    await expect(fetch(`${url}/`)).rejects.toThrow();
  });
});
