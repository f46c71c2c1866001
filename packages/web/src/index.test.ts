import { describe, expect, it } from "vitest";
import { packageName } from "./index.js";

describe("@resumable-gcs/web", () => {
  it("names itself", () => {
    expect(packageName).toBe("@resumable-gcs/web");
  });
});
