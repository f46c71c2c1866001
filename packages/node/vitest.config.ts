import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Memory tests call gc() so they measure what is retained, not what the GC has not reached yet.
    execArgv: ["--expose-gc"],
    testTimeout: 30_000,
  },
});
