import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Memory tests call gc() so they measure what is retained, not what the GC has not reached yet.
    execArgv: ["--expose-gc"],
    testTimeout: 30_000,
    // Nothing here may probe a metadata server or use the machine's credentials: google-auth-library
    // must never reach the link-local address, and every request stays on 127.0.0.0/8.
    env: { METADATA_SERVER_DETECTION: "none", GCE_METADATA_HOST: "127.0.0.1:9", GOOGLE_APPLICATION_CREDENTIALS: "", STORAGE_EMULATOR_HOST: "" },
    // Type tests (`*.test-d.ts`): checked by tsc, so the public types stay right under --strict.
    typecheck: { enabled: true, include: ["src/**/*.test-d.ts"], tsconfig: "./tsconfig.json" },
  },
});
