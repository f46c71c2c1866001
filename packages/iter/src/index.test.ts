import { describe, expect, it } from "vitest";
import { packageName } from "./index.js";

describe("@resumable-gcs/iter", () => {
  it("names itself", () => {
    expect(packageName).toBe("@resumable-gcs/iter");
  });
});
