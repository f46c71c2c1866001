/**
 * Node-only behaviour: the Node adapter's runtime passed in, what loading this package costs, and the
 * README's examples run as written.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startEmulator, type Emulator } from "@resumable-gcs/emulator";
import { nodeRuntime } from "@resumable-gcs/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upload } from "./index.js";
import { generated, pieces } from "./test-support/data.js";

const packageRoot = fileURLToPath(new URL("..", import.meta.url));
let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ buckets: ["iter-node-runtime"] });
});
afterAll(async () => {
  await emulator?.stop();
});

/** Runs `code` as an ES module in a child Node (cwd: this package); resolves with its stdout. */
function runModule(code: string, env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", code], {
      cwd: packageRoot,
      env: { PATH: process.env["PATH"], METADATA_SERVER_DETECTION: "none", GCE_METADATA_HOST: "127.0.0.1:9", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    child.on("close", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`exit ${code}: ${stderr}`))));
  });
}

describe("upload() with the Node adapter's runtime", () => {
  it("uploads through nodeRuntime's transport (the one with google-auth-library behind it)", async () => {
    const data = generated(3 * 256 * 1024 + 17, 3);
    const object = await upload(pieces(data, 100_000), {
      bucket: "iter-node-runtime",
      name: "node-runtime.bin",
      apiEndpoint: emulator.url,
      chunkSize: 256 * 1024,
      runtime: nodeRuntime,
    });
    expect(object.size).toBe(String(data.byteLength));
    expect(emulator.getObject("iter-node-runtime", "node-runtime.bin")?.data).toEqual(data);
  }, 60_000);
});

describe("dependencies", () => {
  it("uploading with the default runtime loads neither google-auth-library nor gaxios", async () => {
    const code = `
      import { registerHooks } from "node:module";
      const seen = [];
      registerHooks({ resolve(specifier, context, next) { const result = next(specifier, context); seen.push(result.url); return result; } });
      const { upload } = await import("@resumable-gcs/iter");
      const object = await upload([new Uint8Array([1, 2, 3])], { bucket: "iter-node-runtime", name: "deps.bin", apiEndpoint: process.env.EMULATOR });
      console.log(JSON.stringify({ size: object.size, seen }));
    `;
    const report = JSON.parse(await runModule(code, { EMULATOR: emulator.url })) as { size: string; seen: string[] };
    expect(report.size).toBe("3");
    expect(report.seen.some((url) => url.includes("/@resumable-gcs/web/") || url.includes("/packages/web/"))).toBe(true);
    expect(report.seen.filter((url) => /google-auth-library|gaxios|@resumable-gcs\/node|packages\/node\//.test(url))).toEqual([]);
  }, 60_000);
});
