import { playwright } from "@vitest/browser-playwright";
import { defineConfig } from "vitest/config";

// Debian's Chromium (`.ci/run` installs it and exports CHROMIUM_PATH); Playwright never downloads one.
const chromiumPath = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const chromiumArgs = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"];
// The server starts once, in Node, and reaches the tests through `inject` (as browser tests need).
const globalSetup = ["./src/test-support/global-setup.ts"];

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: "node", include: ["src/**/*.test.ts"], exclude: ["src/**/*.browser.test.ts"], globalSetup, testTimeout: 60_000 },
      },
      {
        test: {
          name: "chromium",
          include: ["src/**/*.browser.test.ts"],
          globalSetup,
          testTimeout: 60_000,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({ launchOptions: { executablePath: chromiumPath, args: chromiumArgs } }),
            instances: [{ browser: "chromium" }],
          },
        },
      },
    ],
  },
});
