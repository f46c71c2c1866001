import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { http, putChunk, startSession } from "./test-support/raw-http.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

beforeAll(() => {
  // The bin runs from dist/: build it so the test never runs a stale copy.
  execFileSync(process.execPath, [fileURLToPath(import.meta.resolve("typescript/bin/tsc")), "-p", "tsconfig.build.json"], { cwd: packageDir });
}, 240_000); // tsc on a loaded 2-core machine can take minutes

/** Starts the bin with `args` and resolves with the child and the URL it prints as its first line. */
async function startBin(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split("\n")[0];
      if (out.includes("\n") && line) resolve(line);
    });
    child.once("exit", (code) => reject(new Error(`exited early with ${code}`)));
  });
  return { child, url };
}

describe("gcs-emulator bin", () => {
  it("prints its URL, serves uploads, and stops cleanly on SIGTERM", async () => {
    const { child, url } = await startBin(["--port", "0", "--bucket", "bin-bucket", "--storage", "discard", "--latency-ms", "1"]);
    try {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const session = await startSession(url, "from-bin", { bucket: "bin-bucket" });
      const done = await putChunk(session, 0, Buffer.from("hello"), 5);
      expect(done.ok && done.json()).toMatchObject({ size: "5", bucket: "bin-bucket" });
      expect((await http(`${url}/storage/v1/b/bin-bucket`)).status).toBe(200);
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const [code] = (await exited) as [number | null];
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("--no-md5 leaves md5Hash out and refuses an md5 to check", async () => {
    const { child, url } = await startBin(["--port", "0", "--bucket", "bin-bucket", "--storage", "discard", "--no-md5"]);
    try {
      const done = await putChunk(await startSession(url, "no-md5", { bucket: "bin-bucket" }), 0, Buffer.from("hello"), 5);
      expect(done.ok && done.json()).toMatchObject({ size: "5", crc32c: "mnG7TA==" });
      expect(done.ok && done.json()).not.toHaveProperty("md5Hash");
      const refused = await putChunk(await startSession(url, "md5-given", { bucket: "bin-bucket" }), 0, Buffer.from("hello"), 5, {
        "X-Goog-Hash": "md5=XUFAKrxLKna5cZ2REBfFkg==",
      });
      expect(refused.ok && refused.status).toBe(400);
    } finally {
      child.kill("SIGTERM");
    }
  });

  it("--no-cors sends no CORS headers", async () => {
    const { child, url } = await startBin(["--port", "0", "--bucket", "bin-bucket", "--no-cors"]);
    try {
      const response = await http(`${url}/storage/v1/b/bin-bucket`, { headers: { Origin: "https://app.example" } });
      expect(response.status).toBe(200);
      expect(response.headers["access-control-allow-origin"]).toBeUndefined();
    } finally {
      child.kill("SIGTERM");
    }
  });

  it("prints usage and exits 2 on a bad flag", async () => {
    const child = spawn(process.execPath, [bin, "--storage", "tape"], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).toBe(2);
    expect(err).toContain("Usage: gcs-emulator");
  });
});
