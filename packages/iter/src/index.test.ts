import { MemoryCheckpointStore as CoreMemoryCheckpointStore, UploadError as CoreUploadError } from "@resumable-gcs/core";
import { describe, expect, it } from "vitest";
import * as iter from "./index.js";

describe("@resumable-gcs/iter", () => {
  it("exports exactly its public API", () => {
    expect(Object.keys(iter).sort()).toEqual(["MemoryCheckpointStore", "UploadError", "ValidationError", "packageName", "skipPersisted", "upload"]);
    expect(iter.packageName).toBe("@resumable-gcs/iter");
  });

  it("re-exports core's error and store classes themselves, so instanceof works across packages", () => {
    expect(iter.UploadError).toBe(CoreUploadError);
    expect(iter.MemoryCheckpointStore).toBe(CoreMemoryCheckpointStore);
  });
});
