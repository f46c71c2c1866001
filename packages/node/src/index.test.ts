import { describe, expect, it } from "vitest";
import { packageName } from "./index.js";

describe("@resumable-gcs/node", () => {
  it("names itself", () => {
    expect(packageName).toBe("@resumable-gcs/node");
  });
});
