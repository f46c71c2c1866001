import { defineConfig } from "vitest/config";

// Every test here moves real bytes over loopback; on a loaded 2-core machine (CI, or several suites at
// once) a 64 MiB upload can take well over vitest's default 5 s without anything being wrong. The limit
// only catches hangs: no test asserts speed.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
