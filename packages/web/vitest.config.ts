import { playwright } from "@vitest/browser-playwright";
import { defineConfig } from "vitest/config";
import { resumeUploadInNode, startUploadInNode } from "./src/test-support/browser-commands.js";

// Debian's Chromium (`.ci/run` installs it and exports CHROMIUM_PATH); Playwright never downloads one.
const chromiumPath = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
// Headless on a shared 2-core CI box: no sandbox (root), no GPU, nothing that phones home.
const chromiumArgs = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "node",
          include: ["src/**/*.test.ts"],
          exclude: ["src/**/*.browser.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: "chromium",
          include: ["src/**/*.browser.test.ts"],
          globalSetup: ["./src/test-support/browser-global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({ launchOptions: { executablePath: chromiumPath, args: chromiumArgs } }),
            instances: [{ browser: "chromium" }],
            // Node-side halves of the checkpoint-portability tests (the page calls them).
            commands: { startUploadInNode, resumeUploadInNode },
          },
        },
      },
    ],
  },
});
