import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGaxiosTransport } from "./gaxios-transport.js";
import { createHttpTransport } from "./http-transport.js";
import { USER_AGENT } from "./user-agent.js";

// A bare server that records what arrives, to see exactly which headers a transport adds.
let seen: IncomingHttpHeaders[] = [];
const server = createServer((req, res) => {
  seen.push(req.headers);
  req.resume();
  req.on("end", () => res.writeHead(308, { range: "bytes=0-9" }).end());
});
let url: string;
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/upload?upload_id=secret`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const auth = {
  calls: 0,
  getRequestHeaders() {
    this.calls += 1;
    return Promise.resolve(new Headers({ authorization: "Bearer test-token", "x-goog-user-project": "billing" }));
  },
};

describe.each([
  ["gaxios", () => createGaxiosTransport({ auth, userAgent: USER_AGENT })],
  ["node:http", () => createHttpTransport({ auth, userAgent: USER_AGENT })],
])("%s transport headers", (_name, make) => {
  it("adds the auth source's headers and our user agent to every request, and keeps core's headers", async () => {
    seen = [];
    const transport = make();
    const response = await transport.send(
      { method: "PUT", url, headers: { "content-range": "bytes */*", "content-length": "0" }, body: [], bodyLength: 0 },
      { signal: new AbortController().signal },
    );
    expect(response.status).toBe(308);
    expect(response.headers["range"]).toBe("bytes=0-9");
    expect(seen[0]?.["authorization"]).toBe("Bearer test-token");
    expect(seen[0]?.["x-goog-user-project"]).toBe("billing");
    expect(seen[0]?.["user-agent"]).toBe(USER_AGENT);
    expect(seen[0]?.["content-range"]).toBe("bytes */*");
    expect(USER_AGENT).toMatch(/^resumable-gcs-node\/\d+\.\d+\.\d+ \(node\/\d+/);
  });
});
