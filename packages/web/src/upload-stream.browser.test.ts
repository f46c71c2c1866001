/**
 * The upload stream in real Chromium beyond the shared suite: a 32 MiB generated stream through
 * the default (XMLHttpRequest) transport and 8 MiB through fetch, byte-compared; what a CORS
 * misconfiguration does to a whole upload; and checkpoints crossing between the page and Node.
 */
import { commands } from "vitest/browser";
import { describe, expect, inject, it } from "vitest";
import { IndexedDbCheckpointStore, LocalStorageCheckpointStore } from "./checkpoint-stores.js";
import { CorsError } from "./cors.js";
import type { CrossRuntimeArgs } from "./test-support/browser-commands.js";
import { assertSameBytes, generate, generated } from "./test-support/data.js";
import { objectBytes, startSession, throughCorsProxy, uniqueName } from "./test-support/emulator-client.js";
import { type SuiteEnvironment } from "./test-support/case.js";
import { uploadAndCompare } from "./test-support/upload-cases.js";
import { createUploadStream } from "./upload-stream.js";

declare module "vitest/browser" {
  interface BrowserCommands {
    startUploadInNode(args: CrossRuntimeArgs & { stopAfter: number }): Promise<unknown>;
    resumeUploadInNode(args: CrossRuntimeArgs & { checkpoint: unknown }): Promise<{ size?: string; crc32c?: string; resumeOffset: number }>;
  }
}

const MIB = 1024 * 1024;
const environment = (): SuiteEnvironment => ({ emulatorUrl: inject("emulatorUrl"), bucket: inject("bucket"), runtime: "chromium" });

describe("upload stream in Chromium", () => {
  it("uploads a generated 32 MiB stream through the default XMLHttpRequest transport, byte for byte, with bytes-sent progress", async () => {
    let sentBeforePersisted = false;
    const options = { chunkSize: 8 * MIB };
    const size = 32 * MIB + 321;
    const env = environment();
    const upload = createUploadStream({ apiEndpoint: env.emulatorUrl, bucket: env.bucket, name: uniqueName("big"), ...options });
    upload.on("progress", ({ bytesSent, bytesPersisted }) => (sentBeforePersisted ||= bytesSent > bytesPersisted));
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of generate(size, 31, 1 * MIB)) controller.enqueue(part);
        controller.close();
      },
    });
    await source.pipeTo(upload);
    const object = await upload.done;
    expect(object.size).toBe(String(size));
    // XMLHttpRequest reports bytes leaving before the server acknowledges them: fetch cannot.
    expect(sentBeforePersisted).toBe(true);
    assertSameBytes(await objectBytes(env.emulatorUrl, env.bucket, object.name!), generated(size, 31), "32 MiB object");
  });

  it("uploads 8 MiB through the fetch transport too", async () => {
    await uploadAndCompare(environment(), 8 * MIB + 5, 32, { transport: "fetch", chunkSize: 2 * MIB });
  });

  it("a bucket that hides Range fails the upload at once with a CorsError, not data-lost after minutes of retries", async () => {
    const env = environment();
    const session = await startSession(env.emulatorUrl, env.bucket, uniqueName("cors"), { origin: location.origin });
    const sessionUri = throughCorsProxy(session, inject("corsProxyUrl"), "hide-headers");
    // Retries 30 s apart: were the CORS error retried, the test would time out long before.
    const upload = createUploadStream({ sessionUri, trustedSessionOrigins: [new URL(sessionUri).origin], retry: { initialDelayMs: 30_000, maxDelayMs: 30_000 } });
    let retries = 0;
    upload.on("retry", () => (retries += 1));
    const piped = new Blob([generated(600 * 1024, 33)]).stream().pipeTo(upload).then(() => undefined, (error: unknown) => error);
    const error = await upload.done.then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(CorsError);
    expect((error as CorsError).message).toMatch(/^CORS: /);
    expect((error as CorsError).message).toContain("Range");
    expect(await piped).toBeDefined();
    expect(retries).toBeLessThanOrEqual(1);
  });

  it("a refused preflight fails the upload with a CorsError", async () => {
    const env = environment();
    const session = await startSession(env.emulatorUrl, env.bucket, uniqueName("cors"), { origin: location.origin });
    const sessionUri = throughCorsProxy(session, inject("corsProxyUrl"), "refuse-preflight");
    const upload = createUploadStream({ sessionUri, trustedSessionOrigins: [new URL(sessionUri).origin] });
    void new Blob([generated(10_000, 34)]).stream().pipeTo(upload).catch(() => undefined);
    await expect(upload.done).rejects.toBeInstanceOf(CorsError);
  });
});

describe("checkpoints cross between Chromium and Node", () => {
  it("a checkpoint saved in the page (IndexedDB) resumes in Node", async () => {
    const env = environment();
    const args = { emulatorUrl: env.emulatorUrl, bucket: env.bucket, name: uniqueName("page-to-node"), size: 2 * MIB + 99, seed: 35 };
    const store = new IndexedDbCheckpointStore(`cross:${args.name}`);
    const upload = createUploadStream({ apiEndpoint: args.emulatorUrl, bucket: args.bucket, name: args.name, chunkSize: 256 * 1024, onAbort: "keep", checkpointStore: store });
    const writer = upload.getWriter();
    let written = 0;
    for (const part of generate(args.size, args.seed)) {
      if (written >= MIB) break;
      await writer.write(part);
      written += part.byteLength;
    }
    await writer.abort(new Error("tab closing"));
    expect((await upload.aborted).outcome).toBe("kept");
    const checkpoint = await store.load();
    expect(checkpoint).toBeDefined();
    const result = await commands.resumeUploadInNode({ ...args, checkpoint });
    expect(result.resumeOffset).toBeGreaterThan(0);
    expect(result.size).toBe(String(args.size));
    assertSameBytes(await objectBytes(env.emulatorUrl, env.bucket, args.name), generated(args.size, args.seed), "page-to-Node object");
  });

  it("a checkpoint saved in Node resumes in the page (through localStorage)", async () => {
    const env = environment();
    const args = { emulatorUrl: env.emulatorUrl, bucket: env.bucket, name: uniqueName("node-to-page"), size: 2 * MIB + 7, seed: 36 };
    const fromNode = await commands.startUploadInNode({ ...args, stopAfter: MIB });
    const store = new LocalStorageCheckpointStore(`cross:${args.name}`);
    await store.save(fromNode as never);
    const checkpoint = await store.load();
    const upload = createUploadStream({ apiEndpoint: args.emulatorUrl, bucket: args.bucket, name: args.name, chunkSize: 256 * 1024, checkpoint });
    expect(upload.resumeOffset).toBeGreaterThan(0);
    await new Blob([generated(args.size, args.seed).subarray(upload.resumeOffset)]).stream().pipeTo(upload);
    expect((await upload.done).size).toBe(String(args.size));
    assertSameBytes(await objectBytes(env.emulatorUrl, env.bucket, args.name), generated(args.size, args.seed), "Node-to-page object");
    await store.clear();
  });
});
