import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Readable } from "node:stream";
import { UploadError } from "@resumable-gcs/core";
import { startEmulator, type Emulator } from "@resumable-gcs/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUploadStream, type NodeUploadOptions } from "./upload-stream.js";
import { uploadFrom } from "./upload-from.js";

const BUCKET = "adapter";
let emulator: Emulator;
let counter = 0;
beforeAll(async () => {
  emulator = await startEmulator({ buckets: [BUCKET] });
});
afterAll(async () => {
  await emulator.stop();
});

function options(extra: Partial<NodeUploadOptions> = {}): NodeUploadOptions {
  counter += 1;
  return { apiEndpoint: emulator.url, bucket: BUCKET, name: `adapter/${counter}`, retry: { initialDelayMs: 5, maxDelayMs: 40 }, ...extra };
}

function storedText(name: string): string {
  return Buffer.from(emulator.getObject(BUCKET, name)!.data!).toString("utf8");
}

describe("strings, as every Node Writable takes them", () => {
  it("writes strings in their encoding, and end(chunk) goes through the same checks", async () => {
    const o = options();
    const stream = createUploadStream(o);
    stream.write("line 1\n");
    stream.write("6c696e6520320a", "hex");
    stream.write(Buffer.from("line 3\n"), (error) => expect(error).toBeFalsy());
    stream.end("bGluZSA0Cg==", "base64");
    await expect(stream.done).resolves.toMatchObject({ size: "28" });
    expect(storedText(o.name!)).toBe("line 1\nline 2\nline 3\nline 4\n");
  });

  it("end('x') ends the upload with the string", async () => {
    const o = options();
    const stream = createUploadStream(o);
    stream.end("x");
    await expect(stream.done).resolves.toMatchObject({ size: "1" });
    expect(storedText(o.name!)).toBe("x");
  });

  it("end(42) is refused like write(42): invalid-argument, nothing committed", async () => {
    const o = options();
    const stream = createUploadStream(o);
    const failed = new Promise<unknown>((resolve) => stream.on("error", resolve));
    stream.end(42);
    await expect(failed).resolves.toMatchObject({ code: "invalid-argument", field: "write(chunk)" });
    await stream.done.catch(() => undefined);
    expect(emulator.getObject(BUCKET, o.name!)).toBeUndefined();
  });

  it("uploadFrom takes a source of strings", async () => {
    const o = options();
    await uploadFrom(Readable.from(["a", "b", "c"]), o);
    expect(storedText(o.name!)).toBe("abc");
  });
});

describe("Node's options", () => {
  it.each([
    ["transport", { transport: "carrier-pigeon" }],
    ["highWaterMark", { highWaterMark: -1 }],
    ["auth", { auth: 42 }],
    ["keyFilename", { keyFilename: 7 }],
    ["sessionUri", { bucket: undefined, name: undefined, sessionUri: "not a url" }],
    ["upload", { upload: { chunkSize: 262_144 } }],
  ])("refuses a bad %s, naming it, before any request", (field, extra) => {
    const before = emulator.listObjects(BUCKET).length;
    expect(() => createUploadStream(options(extra as Partial<NodeUploadOptions>))).toThrow(expect.objectContaining({ code: "invalid-argument", field }) as Error);
    expect(emulator.listObjects(BUCKET).length).toBe(before);
  });
});

describe('transport: "http" closes what it opens', () => {
  function openSockets(): number {
    return process.getActiveResourcesInfo().filter((name) => name === "TCPSocketWrap").length;
  }

  it("50 uploads leave no socket behind", async () => {
    const settle = async (): Promise<void> => {
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setTimeout(resolve, 50));
    };
    await settle();
    const before = openSockets();
    for (let i = 0; i < 50; i++) await uploadFrom(Readable.from([Buffer.from(`upload ${i}`)]), options({ transport: "http" }));
    await settle();
    // Each upload's keep-alive agent is destroyed when it ends: its socket (and the emulator's side
    // of it) closes. Without that, 50 client sockets (and 50 server ones) would still be open here.
    expect(openSockets()).toBeLessThanOrEqual(before);
  }, 60_000);
});

describe("google-auth-library is loaded only when credentials are needed", () => {
  it("an upload to a plain-http emulator never loads it", async () => {
    const dist = new URL("../dist/index.js", import.meta.url).href;
    const script = `
      import { createRequire } from "node:module";
      import { Readable } from "node:stream";
      const { uploadFrom } = await import(${JSON.stringify(dist)});
      await uploadFrom(Readable.from([Buffer.from("hi")]), { apiEndpoint: ${JSON.stringify(emulator.url)}, bucket: "${BUCKET}", name: "lazy-auth" });
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((path) => path.includes("google-auth-library"));
      process.stdout.write(JSON.stringify(loaded));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      env: { PATH: process.env["PATH"] ?? "", METADATA_SERVER_DETECTION: "none", GCE_METADATA_HOST: "127.0.0.1:9" },
    });
    expect(JSON.parse(stdout)).toEqual([]);
    expect(emulator.getObject(BUCKET, "lazy-auth")?.size).toBe(2);
  }, 30_000);
});

describe("credentials failures", () => {
  it("a missing key file fails at once with code auth, google-auth-library's reason and what to do", async () => {
    // https to a closed loopback port: credentials are allowed there, and nothing could leave 127.0.0.1.
    const stream = createUploadStream({ apiEndpoint: "https://127.0.0.1:1", bucket: BUCKET, name: "auth", keyFilename: "/nonexistent/key.json" });
    const retries: unknown[] = [];
    stream.on("retry", (r) => retries.push(r));
    // A Writable that fails emits 'error'; without a listener Node raises it as an uncaught exception.
    const emitted = new Promise<unknown>((resolve) => stream.once("error", resolve));
    stream.end("data");
    const error = (await stream.done.catch((e: unknown) => e)) as UploadError;
    expect(await emitted).toBe(error);
    expect(error).toBeInstanceOf(UploadError);
    expect(error).toMatchObject({ code: "auth", retryable: false });
    expect(error.message).toMatch(/ENOENT|no such file/);
    expect(error.message).toContain("gcloud auth application-default login");
    expect(error.message).toContain("GOOGLE_APPLICATION_CREDENTIALS");
    // Not retried: a credentials problem is not a network problem.
    expect(retries).toEqual([]);
  });
});
