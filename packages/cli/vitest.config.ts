import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Every test spawns the built binary; a cold node start is slow on a loaded 2-core machine.
    testTimeout: 30_000,
  },
});
