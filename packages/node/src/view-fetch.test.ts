import { createHash } from "node:crypto";
import { Agent, createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { DEFAULT_MAX_RESPONSE_BYTES } from "@resumable-gcs/core";
import { Gaxios } from "gaxios";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGaxiosTransport } from "./gaxios-transport.js";
import { readLimited } from "./read-limited.js";
import { ViewBody, viewFetch } from "./view-fetch.js";

// Records what arrives (headers, a digest of the body) and answers as the path asks. Loopback only.
interface Seen {
  readonly method: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly length: number;
  readonly sha256: string;
}
let seen: Seen[] = [];
const server = createServer((req, res) => {
  const hash = createHash("sha256");
  let length = 0;
  req.on("data", (part: Buffer) => {
    hash.update(part);
    length += part.byteLength;
  });
  req.on("end", () => {
    seen.push({ method: req.method, headers: req.headers, length, sha256: hash.digest("hex") });
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/gzip") res.writeHead(200, { "content-encoding": "gzip", "content-type": "application/json" }).end(gzipSync('{"packed":true}'));
    else if (path === "/hang") res.writeHead(200).write("partial");
    else if (path === "/silent") return; // never answers
    else res.writeHead(308, { range: `bytes=0-${Math.max(0, length - 1)}`, "x-twice": "a" }).end(`got ${length}`);
  });
});
let base: string;
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const sha256 = (views: readonly Uint8Array[]): string => {
  const hash = createHash("sha256");
  for (const view of views) hash.update(view);
  return hash.digest("hex");
};

/** Views of odd sizes over one buffer, as core hands them out. */
function someViews(): Uint8Array[] {
  const all = new Uint8Array(700_000);
  for (let i = 0; i < all.length; i++) all[i] = (i * 31) & 255;
  return [all.subarray(0, 100_000), all.subarray(100_000, 600_001), all.subarray(600_001)];
}

describe("ViewBody", () => {
  it("reads as a Readable (for any fetch): the views in order, in slices of at most sliceSize, progress as each is taken", async () => {
    const views = someViews();
    const progress: number[] = [];
    const parts: Buffer[] = [];
    for await (const part of new ViewBody(views, (n) => progress.push(n), 256 * 1024)) parts.push(part as Buffer);
    expect(parts.every((p) => p.byteLength <= 256 * 1024)).toBe(true);
    expect(sha256(parts)).toBe(sha256(views));
    expect(progress.at(-1)).toBe(700_000);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    // The slices are views onto the caller's memory, not copies.
    expect(parts[0]!.buffer).toBe(views[0]!.buffer);
  });
});

describe("viewFetch", () => {
  it("writes a ViewBody's views straight to the socket (the stream is never read), with progress", async () => {
    seen = [];
    const views = someViews();
    const progress: number[] = [];
    const body = new ViewBody(views, (n) => progress.push(n));
    const res = await viewFetch(`${base}/upload`, { method: "PUT", headers: new Headers({ "content-length": "700000" }), body });
    expect(res.status).toBe(308);
    expect(res.ok).toBe(false);
    expect(res.headers.get("range")).toBe("bytes=0-699999");
    expect(await readLimited(res.body, DEFAULT_MAX_RESPONSE_BYTES, "test")).toBe("got 700000");
    expect(seen[0]).toMatchObject({ method: "PUT", length: 700_000, sha256: sha256(views) });
    expect(progress.at(-1)).toBe(700_000);
    expect(body.readableDidRead).toBe(false);
  });

  it("sends strings, bytes and Readables as they are, and no body at all", async () => {
    seen = [];
    await viewFetch(`${base}/a`, { method: "POST", body: '{"name":"x"}' });
    await viewFetch(`${base}/b`, { method: "POST", body: new Uint8Array([1, 2, 3]) });
    await viewFetch(`${base}/c`, { method: "POST", body: Readable.from([Buffer.from("ab"), Buffer.from("cd")]) });
    await viewFetch(new URL(`${base}/d`), { method: "DELETE" });
    expect(seen.map((s) => [s.method, s.length])).toEqual([
      ["POST", 12],
      ["POST", 3],
      ["POST", 4],
      ["DELETE", 0],
    ]);
    await expect(viewFetch(`${base}/e`, { method: "POST", body: { not: "a body" } })).rejects.toThrow(TypeError);
  });

  it("uses the agent it is given (an instance, or a function of the URL)", async () => {
    const agent = new Agent({ keepAlive: false });
    const asked: string[] = [];
    await viewFetch(`${base}/f`, { agent: (url) => (asked.push(url.pathname), agent) });
    expect(asked).toEqual(["/f"]);
    const res = await viewFetch(`${base}/g`, { agent });
    expect(res.status).toBe(308);
    agent.destroy();
  });

  it("decodes a compressed response body", async () => {
    const res = await viewFetch(`${base}/gzip`, { headers: { "accept-encoding": "gzip" } });
    expect(await readLimited(res.body, DEFAULT_MAX_RESPONSE_BYTES, "test")).toBe('{"packed":true}');
  });

  it("rejects on abort (ABORT_ERR; TimeoutError for a timeout signal), before the response and while its body streams", async () => {
    const aborted = new AbortController();
    aborted.abort();
    await expect(viewFetch(`${base}/h`, { signal: aborted.signal })).rejects.toMatchObject({ code: "ABORT_ERR" });
    await expect(viewFetch(`${base}/h`, { signal: AbortSignal.abort(new DOMException("late", "TimeoutError")) })).rejects.toMatchObject({ code: "TimeoutError" });
    const later = new AbortController();
    const res = await viewFetch(`${base}/hang`, { signal: later.signal });
    const reading = readLimited(res.body, DEFAULT_MAX_RESPONSE_BYTES, "test");
    later.abort();
    await expect(reading).rejects.toMatchObject({ code: "ABORT_ERR" });
  });
});

describe("the gaxios transport's fetch", () => {
  const chunk = (views: Uint8Array[]) => ({
    method: "PUT" as const,
    url: `${base}/chunk`,
    headers: { "content-length": String(views.reduce((n, v) => n + v.byteLength, 0)), "content-range": "bytes 0-699999/*" },
    body: views,
    bodyLength: 700_000,
  });
  const sendOptions = (onUploadProgress?: (n: number) => void) => ({
    signal: new AbortController().signal,
    credentials: false,
    maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
    ...(onUploadProgress === undefined ? {} : { onUploadProgress }),
  });

  it("is its own node:http fetch by default: node-fetch's request headers never appear", async () => {
    seen = [];
    const views = someViews();
    const response = await createGaxiosTransport().send(chunk(views), sendOptions());
    expect(response.status).toBe(308);
    expect(seen[0]).toMatchObject({ length: 700_000, sha256: sha256(views) });
    // node-fetch would add both of these to every request.
    expect(seen[0]!.headers["accept-encoding"]).toBeUndefined();
    expect(seen[0]!.headers["user-agent"]).not.toBe("node-fetch");
  });

  it("timeoutMs (gaxios's timeout, through the fetch's signal) ends a silent exchange and a stalled body as kind timeout", async () => {
    const transport = createGaxiosTransport({ timeoutMs: 100 });
    const silent = { method: "PUT" as const, url: `${base}/silent`, headers: { "content-length": "0" }, body: [], bodyLength: 0 };
    await expect(transport.send(silent, sendOptions())).rejects.toMatchObject({ kind: "timeout", code: "TimeoutError" });
    await expect(transport.send({ ...silent, url: `${base}/hang` }, sendOptions())).rejects.toMatchObject({ kind: "timeout", code: "TimeoutError" });
  });

  it("leaves a fetch implementation set on the caller's gaxios in charge; it gets the body as a Readable", async () => {
    seen = [];
    const views = someViews();
    const calls: string[] = [];
    const gaxios = new Gaxios({
      fetchImplementation: (input, init) => {
        calls.push(input instanceof Request ? input.url : input.toString());
        return viewFetch(input, { ...init, body: Readable.from((init as { body: Readable }).body) } as never) as never;
      },
    });
    const progress: number[] = [];
    const response = await createGaxiosTransport({ gaxios }).send(chunk(views), sendOptions((n) => progress.push(n)));
    expect(response.status).toBe(308);
    expect(calls).toEqual([`${base}/chunk`]);
    expect(seen[0]).toMatchObject({ length: 700_000, sha256: sha256(views) });
    expect(progress.at(-1)).toBe(700_000);
  });
});
