import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { DEFAULT_MAX_RESPONSE_BYTES, TransportError, type AuthHeaderSource, type Transport, type TransportSendOptions } from "@resumable-gcs/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGaxiosTransport } from "./gaxios-transport.js";
import { createHttpTransport } from "./http-transport.js";
import { USER_AGENT } from "./user-agent.js";

// A bare server that records what arrives and answers as each path asks, to see exactly what a
// transport sends and how it treats what comes back. Loopback only.
let seen: IncomingHttpHeaders[] = [];
const server = createServer((req, res: ServerResponse) => {
  seen.push(req.headers);
  req.resume();
  req.on("end", () => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/redirect") res.writeHead(302, { location: "/elsewhere" }).end("moved");
    else if (path === "/resume") res.writeHead(308, { location: "/elsewhere", range: "bytes=0-9" }).end();
    else if (path === "/big") {
      // An endless body: the transport must stop reading at its limit.
      res.writeHead(200, { "content-type": "application/json" });
      const piece = Buffer.alloc(64 * 1024, 0x20);
      const pump = (): void => {
        while (!res.destroyed && res.write(piece));
        if (!res.destroyed) res.once("drain", pump);
      };
      res.on("close", () => res.destroy());
      pump();
    } else res.writeHead(308, { range: "bytes=0-9" }).end();
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

function recordingAuth(fail?: Error): AuthHeaderSource & { calls: number; refreshes: number } {
  return {
    calls: 0,
    refreshes: 0,
    getRequestHeaders() {
      this.calls += 1;
      if (fail !== undefined) return Promise.reject(fail);
      return Promise.resolve(new Headers({ authorization: `Bearer test-token-${this.refreshes}`, "x-goog-user-project": "billing" }));
    },
    refresh() {
      this.refreshes += 1;
      return Promise.resolve();
    },
  };
}

function options(overrides: Partial<TransportSendOptions> = {}): TransportSendOptions {
  return { signal: new AbortController().signal, credentials: true, maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES, ...overrides };
}

const query = (url: string) => ({ method: "PUT" as const, url, headers: { "content-range": "bytes */*", "content-length": "0" }, body: [], bodyLength: 0 });

const transports: [string, (auth?: AuthHeaderSource) => Transport][] = [
  ["gaxios", (auth) => createGaxiosTransport({ auth, userAgent: USER_AGENT })],
  ["node:http", (auth) => createHttpTransport({ auth, userAgent: USER_AGENT })],
];

describe.each(transports)("%s transport", (_name, make) => {
  it("declares contract v2 with upload progress", () => {
    const transport = make();
    expect(transport.specificationVersion).toBe(2);
    expect(transport.capabilities).toEqual({ uploadProgress: true });
    void transport.close?.();
  });

  it("with credentials: adds the auth source's headers and our user agent, and keeps core's headers", async () => {
    seen = [];
    const auth = recordingAuth();
    const transport = make(auth);
    const response = await transport.send(query(`${base}/upload?upload_id=secret`), options());
    expect(response.status).toBe(308);
    expect(response.headers["range"]).toBe("bytes=0-9");
    expect(seen[0]).toMatchObject({ authorization: "Bearer test-token-0", "x-goog-user-project": "billing", "user-agent": USER_AGENT, "content-range": "bytes */*" });
    expect(USER_AGENT).toMatch(/^resumable-gcs-node\/\d+\.\d+\.\d+ \(node\/\d+/);
    void transport.close?.();
  });

  it("without credentials: never asks the auth source and sends no authorization", async () => {
    seen = [];
    const auth = recordingAuth();
    const transport = make(auth);
    await transport.send(query(`${base}/upload?upload_id=secret`), options({ credentials: false, refreshCredentials: true }));
    expect(auth.calls).toBe(0);
    expect(auth.refreshes).toBe(0);
    expect(seen[0]?.authorization).toBeUndefined();
    void transport.close?.();
  });

  it("refreshCredentials refreshes the auth source once before taking its headers", async () => {
    seen = [];
    const auth = recordingAuth();
    const transport = make(auth);
    await transport.send(query(`${base}/upload`), options({ refreshCredentials: true }));
    expect(auth.refreshes).toBe(1);
    expect(seen[0]?.authorization).toBe("Bearer test-token-1");
    void transport.close?.();
  });

  it("an auth source that fails rejects with kind auth, its reason, redacted, and sends nothing", async () => {
    seen = [];
    const transport = make(recordingAuth(new Error("Could not load the default credentials (token ya29.leaked)")));
    const error = (await transport.send(query(`${base}/upload?upload_id=secret-id`), options()).catch((e: unknown) => e)) as TransportError;
    expect(error).toBeInstanceOf(TransportError);
    expect(error.kind).toBe("auth");
    expect(error.message).toContain("Could not load the default credentials");
    expect(error.message).not.toContain("leaked");
    expect(error.message).not.toContain("secret-id");
    expect(seen).toEqual([]);
    void transport.close?.();
  });

  it("returns a 302 with Location and a 308 with Location as responses, not followed", async () => {
    seen = [];
    const transport = make();
    const redirect = await transport.send({ method: "GET", url: `${base}/redirect`, headers: {}, body: [], bodyLength: 0 }, options({ credentials: false }));
    expect(redirect).toMatchObject({ status: 302, headers: { location: "/elsewhere" }, body: "moved" });
    const resume = await transport.send(query(`${base}/resume`), options({ credentials: false }));
    expect(resume).toMatchObject({ status: 308, headers: { location: "/elsewhere", range: "bytes=0-9" } });
    expect(seen).toHaveLength(2);
    void transport.close?.();
  });

  it("refuses a response body over maxResponseBytes as truncated/tooLarge, without reading on", async () => {
    const transport = make();
    const error = (await transport
      .send({ method: "GET", url: `${base}/big`, headers: {}, body: [], bodyLength: 0 }, options({ credentials: false, maxResponseBytes: 256 * 1024 }))
      .catch((e: unknown) => e)) as TransportError;
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ kind: "truncated", tooLarge: true });
    void transport.close?.();
  });

  it("rejects with kind aborted when the signal fires, and network when nothing listens", async () => {
    const transport = make();
    const controller = new AbortController();
    controller.abort("stop");
    await expect(transport.send(query(`${base}/upload`), options({ signal: controller.signal }))).rejects.toMatchObject({ kind: "aborted" });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = (await transport.send(query(`http://127.0.0.1:${port}/upload?upload_id=secret-id`), options({ credentials: false })).catch((e: unknown) => e)) as TransportError;
    expect(refused).toBeInstanceOf(TransportError);
    expect(refused.kind).toBe("network");
    expect(refused.message).not.toContain("secret-id");
    void transport.close?.();
  });
});

describe("node:http transport close()", () => {
  it("destroys the agents it made (idempotently) and refuses later sends", async () => {
    const transport = createHttpTransport();
    await transport.send(query(`${base}/upload`), options({ credentials: false }));
    void transport.close();
    void transport.close();
    await expect(transport.send(query(`${base}/upload`), options({ credentials: false }))).rejects.toMatchObject({ kind: "network", code: "ERR_TRANSPORT_CLOSED" });
  });
});
