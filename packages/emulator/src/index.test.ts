import { describe, expect, it } from "vitest";
import * as api from "./index.js";

describe("@resumable-gcs/emulator", () => {
  it("names itself and exports the in-process API", () => {
    expect(api.packageName).toBe("@resumable-gcs/emulator");
    expect(Object.keys(api).sort()).toEqual([
      "DEFAULT_SESSION_TTL_MS",
      "FAULT_VOCABULARY",
      "REQUEST_KINDS",
      "faultHeaders",
      "packageName",
      "parseFault",
      "parseInstruction",
      "startEmulator",
      "useEmulator",
    ]);
  });

  it("starts on 127.0.0.1 with a free port and stops", async () => {
    const emulator = await api.startEmulator();
    expect(emulator.url).toBe(`http://127.0.0.1:${emulator.port}`);
    expect(emulator.port).toBeGreaterThan(0);
    await emulator.stop();
    await emulator.stop();
  });

  it("refuses invalid options", async () => {
    await expect(api.startEmulator({ latencyMs: -1 })).rejects.toThrow(RangeError);
    await expect(api.startEmulator({ buckets: ["Bad Name"] })).rejects.toThrow(RangeError);
  });
});
