import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // The suite's own tests reach the server through `inject`, as browser-mode tests do.
    globalSetup: ["./src/test-support/global-setup.ts"],
    testTimeout: 60_000,
  },
});
