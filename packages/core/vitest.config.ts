import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Core's tests are pure, but its property tests run 1000 cases each under CI and share two cores
    // with every other package's suite (turbo runs them side by side): 5 s is a wall-clock limit in
    // disguise. No test here asserts speed; the bench measures it.
    testTimeout: 30_000,
  },
});
