/**
 * The example page (examples/browser) in real headless Chromium, driven by Playwright: upload a
 * picked file and a generated stream, check each object in the emulator, and save a screenshot
 * under test-output/ (packages/web/test-output/example-page.png).
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32c } from "@node-rs/crc32";
import { type Browser, chromium } from "playwright";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningExample, startExample } from "../../../examples/browser/serve.mjs";
import { generated } from "./test-support/data.js";

const outputDir = fileURLToPath(new URL("../test-output/", import.meta.url));
let example: RunningExample;
let browser: Browser;

beforeAll(async () => {
  example = await startExample();
  browser = await chromium.launch({
    executablePath: process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"],
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await example?.stop();
});

/** The page's own xorshift32 stream (main.ts), recomputed here to compare bytes. */
function pageGenerated(size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = 1;
  for (let at = 0; at < size; at += 256 * 1024) {
    const length = Math.min(256 * 1024, size - at);
    const words = new Uint32Array(Math.ceil(length / 4));
    for (let i = 0; i < words.length; i += 1) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    out.set(new Uint8Array(words.buffer, 0, length), at);
  }
  return out;
}

const hexCrc = (bytes: Uint8Array): string => (crc32c(bytes) >>> 0).toString(16).padStart(8, "0");

describe("examples/browser in Chromium", () => {
  it("uploads a picked file and a generated stream; the objects match; the page shows the CRC32C", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(example.url);

    const file = generated(3 * 1024 * 1024 + 77, 42);
    await page.setInputFiles("#file", { name: "photo.raw", mimeType: "application/octet-stream", buffer: Buffer.from(file) });
    await page.waitForSelector("body[data-state=done]", { timeout: 60_000 });
    const stored = example.emulator.getObject(example.bucket, "uploads/photo.raw");
    expect(stored?.size).toBe(file.byteLength);
    expect(Buffer.compare(Buffer.from(stored!.data!), Buffer.from(file))).toBe(0);
    expect(await page.textContent("#local-crc")).toBe(hexCrc(file));
    expect(await page.textContent("#object-crc")).toBe(hexCrc(file));

    const size = 8 * 1024 * 1024;
    await page.fill("#mib", "8");
    await page.click("#generate");
    await page.waitForFunction(() => document.body.dataset["state"] !== "uploading" && document.getElementById("object")?.textContent?.startsWith("generated/"), null, { timeout: 120_000 });
    await page.waitForSelector("body[data-state=done]", { timeout: 120_000 });
    const streamed = example.emulator.getObject(example.bucket, `generated/${size}-bytes.bin`);
    const expected = pageGenerated(size);
    expect(streamed?.size).toBe(size);
    expect(Buffer.compare(Buffer.from(streamed!.data!), Buffer.from(expected))).toBe(0);
    expect(await page.textContent("#object-crc")).toBe(hexCrc(expected));
    expect(await page.textContent("#local-crc")).toBe(hexCrc(expected));
    expect(await page.getAttribute("#bar", "value")).toBe(String(size));

    await mkdir(outputDir, { recursive: true });
    await page.screenshot({ path: join(outputDir, "example-page.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 180_000);
});
