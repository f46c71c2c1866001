#!/usr/bin/env node
// The example's server: serves the page and its bundle, and mints upload sessions for it, the way a
// real backend would (it holds the credentials; the page gets only a session URI created with the
// page's Origin). Here the "bucket" is @resumable-gcs/emulator on 127.0.0.1.
//
//   node examples/browser/serve.mjs        # prints the page URL; Ctrl-C stops it
import { readFile, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { startEmulator } from "@resumable-gcs/emulator";
import { build } from "rolldown";

const here = fileURLToPath(new URL(".", import.meta.url));

/** Bundles main.ts (and @resumable-gcs/web, with its lazily loaded checksum chunks) for the browser. */
async function bundle() {
  const dir = await mkdtemp(join(tmpdir(), "rgcs-example-"));
  await build({
    input: join(here, "main.ts"),
    platform: "browser",
    output: { dir, format: "esm", entryFileNames: "main.js", chunkFileNames: "[name]-[hash].js" },
    logLevel: "silent",
  });
  return dir;
}

async function readJson(req) {
  let text = "";
  for await (const part of req) text += part;
  return JSON.parse(text || "{}");
}

/**
 * Starts the example: the emulator (unless `emulator` is given), the bundle, and the page server on
 * 127.0.0.1. Resolves with `{ url, emulator, bucket, stop }`.
 */
export async function startExample({ port = 0, emulator: given, bucket = "example-bucket" } = {}) {
  const emulator = given ?? (await startEmulator({ buckets: [bucket] }));
  if (given !== undefined) await emulator.createBucket(bucket).catch(() => undefined);
  const assets = await bundle();
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://example.invalid");
      if (req.method === "GET" && (url.pathname === "/" || url.pathname === "/index.html")) {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(await readFile(join(here, "index.html")));
        return;
      }
      if (req.method === "GET" && url.pathname.startsWith("/assets/")) {
        const file = normalize(join(assets, url.pathname.slice("/assets/".length)));
        if (!file.startsWith(assets)) throw Object.assign(new Error("outside the assets"), { status: 404 });
        res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(await readFile(file));
        return;
      }
      if (req.method === "POST" && url.pathname === "/api/session") {
        // Minting: the server starts the session with the PAGE's origin, so the bucket answers the
        // page's own requests to the session URI with CORS headers. A real server would add its
        // credentials here (Authorization) and choose the object name itself.
        const { name, size } = await readJson(req);
        if (typeof name !== "string" || name === "") throw Object.assign(new Error("name required"), { status: 400 });
        const origin = req.headers.origin ?? `http://${req.headers.host}`;
        const start = await fetch(`${emulator.url}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&name=${encodeURIComponent(name)}`, {
          method: "POST",
          headers: { "content-type": "application/json; charset=UTF-8", origin, ...(typeof size === "number" ? { "x-upload-content-length": String(size) } : {}) },
          body: JSON.stringify({ name, contentType: "application/octet-stream" }),
        });
        const sessionUri = start.headers.get("location");
        if (!start.ok || sessionUri === null) throw new Error(`session start failed: ${start.status}`);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ sessionUri, apiEndpoint: emulator.url }));
        return;
      }
      res.writeHead(404).end("not found");
    } catch (error) {
      res.writeHead(error.status ?? 500, { "content-type": "text/plain" }).end(String(error.message ?? error));
    }
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}/`;
  return {
    url,
    emulator,
    bucket,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      if (given === undefined) await emulator.stop();
      await rm(assets, { recursive: true, force: true });
    },
  };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  const example = await startExample({ port: Number(process.env.PORT ?? 0) });
  console.log(`${example.url}  (bucket "${example.bucket}" on the emulator at ${example.emulator.url}; Ctrl-C stops)`);
  const stop = async () => {
    await example.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
