import { describe, expect, it } from "vitest";
import { packageName } from "./index.js";

describe("@resumable-gcs/core", () => {
  it("names itself", () => {
    expect(packageName).toBe("@resumable-gcs/core");
  });
});
