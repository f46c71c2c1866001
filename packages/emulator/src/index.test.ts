import { describe, expect, it } from "vitest";
import { packageName } from "./index.js";

describe("@resumable-gcs/emulator", () => {
  it("names itself", () => {
    expect(packageName).toBe("@resumable-gcs/emulator");
  });
});
