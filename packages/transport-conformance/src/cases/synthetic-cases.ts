/**
 * Cases against the synthetic routes: each route misbehaves in one precise way, and the server's
 * record says what really reached it, so these check the wire, not the transport's word.
 */
import { fillPattern, patternSlice } from "../pattern.js";
import { ENDLESS_CAP_BYTES, PARTIAL_BODY_BYTES, UTF8_TEXT, routes, type VerifyResult } from "../wire.js";
import {
  delay,
  expectLowerCaseNames,
  expectStatus,
  fail,
  send,
  utf8,
  type ConformanceCase,
  type Harness,
} from "./harness.js";

const KiB = 1024;
const MiB = 1024 * KiB;

/** Splits `total` pattern bytes into awkward views: empty ones, single bytes, odd sizes, views with a non-zero byteOffset into larger buffers. */
function awkwardViews(total: number, seed: number): Uint8Array[] {
  const sizes = [0, 1, 2, 3, 7, 0, 4095, 4096, 4097, 65_535, 65_536, 65_537, 1, 262_143, 262_144, 262_145, 0, 13];
  const views: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; at < total; i += 1) {
    const size = Math.min(sizes[i % sizes.length]!, total - at);
    // Every third view lives inside a bigger buffer filled with other bytes: a transport that
    // sends `view.buffer` instead of the view sends those too.
    if (i % 3 === 0) {
      const backing = new Uint8Array(size + 64).fill(0xee);
      const view = backing.subarray(32, 32 + size);
      fillPattern(view, at, seed);
      views.push(view);
    } else {
      views.push(patternSlice(at, size, seed));
    }
    at += size;
  }
  return views;
}

async function verified(h: Harness, body: readonly Uint8Array[], seed: number, what: string, extra: { onUploadProgress?: (n: number) => void; method?: "PUT" | "POST" } = {}): Promise<void> {
  const length = body.reduce((sum, view) => sum + view.byteLength, 0);
  await h.withTransport(async (transport) => {
    const { url } = await h.url(routes.verify, { seed: String(seed) });
    const response = await send(transport, {
      method: extra.method ?? "PUT",
      url,
      headers: { "content-type": "application/octet-stream" },
      body,
      ...(extra.onUploadProgress === undefined ? {} : { onUploadProgress: extra.onUploadProgress }),
    });
    expectStatus(response, 200, what);
    const result = JSON.parse(response.body) as VerifyResult;
    if (result.received !== length) fail(`${what}: the server received ${result.received} bytes of ${length}`);
    if (result.firstMismatch !== -1) fail(`${what}: the bytes differ from the views sent, first at body offset ${result.firstMismatch}`);
    if (result.contentLength !== String(length)) fail(`${what}: content-length on the wire was ${result.contentLength}, expected ${length}`);
    if (result.transferEncoding !== undefined) fail(`${what}: the body must go with its content-length, not transfer-encoding: ${result.transferEncoding}`);
  });
}

/** The synthetic cases. */
export function syntheticCases(h: Harness): ConformanceCase[] {
  const { capabilities } = h.options;
  const redirects = h.options.redirects ?? "returned";
  const largeBodyBytes = h.options.largeBodyBytes ?? 64 * MiB;
  const cases: ConformanceCase[] = [];
  const add = (name: string, run: () => Promise<void>, timeoutMs = 30_000): void => {
    cases.push({ name, run, timeoutMs });
  };

  add("declares contract version 2 and the expected capabilities", () =>
    h.withTransport((transport) => {
      if (transport.specificationVersion !== 2) fail(`specificationVersion is ${String(transport.specificationVersion)}, expected 2`);
      if (transport.capabilities?.uploadProgress !== capabilities.uploadProgress) {
        fail(`capabilities.uploadProgress is ${String(transport.capabilities?.uploadProgress)}, the suite was told ${capabilities.uploadProgress}`);
      }
      return Promise.resolve();
    }),
  );

  const statuses: { status: number; range?: string; note?: string }[] = [
    { status: 200 },
    { status: 201 },
    { status: 204, note: "no body" },
    { status: 308, note: "without Range (nothing persisted)" },
    { status: 308, range: "bytes=0-262143", note: "with Range" },
    { status: 400 },
    { status: 401 },
    { status: 403 },
    { status: 404 },
    { status: 408 },
    { status: 410 },
    { status: 412 },
    { status: 429 },
    { status: 499, note: "Client Closed Request, the answer to a cancel" },
    { status: 500 },
    { status: 502 },
    { status: 503 },
    { status: 504 },
  ];
  for (const { status, range, note } of statuses) {
    add(`returns status ${status}${note === undefined ? "" : ` ${note}`} as a response with its body and headers`, () =>
      h.withTransport(async (transport) => {
        const body = status >= 400 ? JSON.stringify({ error: { code: status, message: `status ${status} as asked` } }) : status === 204 ? "" : JSON.stringify({ kind: "storage#object", size: "5" });
        const params: Record<string, string | string[]> = { status: String(status), body, h: range === undefined ? [] : [`Range:${range}`] };
        const { url } = await h.url(routes.respond, params);
        const response = await send(transport, {
          method: "PUT",
          url,
          headers: { "content-range": "bytes 0-4/*" },
          body: [utf8("hello")],
        });
        expectStatus(response, status, `status ${status}`);
        expectLowerCaseNames(response, `status ${status}`);
        if (response.body !== body) fail(`status ${status}: body ${JSON.stringify(h.scrub(response.body.slice(0, 200)))}, expected ${JSON.stringify(body)}`);
        if (range === undefined && "range" in response.headers) fail(`status ${status}: a range header appeared that the server did not send`);
        if (range !== undefined && response.headers["range"] !== range) fail(`status ${status}: range header ${String(response.headers["range"])}, expected ${range}`);
      }),
    );
  }

  for (const status of [308, 302, 301, 303, 307]) {
    const what = status === 308 ? "a 308 with a Location" : `a ${status} pointing to another origin`;
    add(
      redirects === "returned"
        ? `returns ${what} as a response, not followed`
        : `follows ${what} (the platform does) without carrying credentials to the other origin`,
      () =>
        h.withTransport(async (transport) => {
          const { otherOriginUrl } = await h.server();
          const targetId = h.nextId();
          const location = `${otherOriginUrl}/elsewhere?id=${targetId}`;
          const { url } = await h.url(routes.respond, { status: String(status), h: [`Location:${location}`], body: "" });
          const response = await send(transport, { method: "PUT", url, headers: { "content-range": "bytes */*" }, body: [], credentials: true });
          const target = await h.record(targetId);
          if (redirects === "returned") {
            expectStatus(response, status, what);
            if (response.headers["location"] !== location) fail(`${what}: location header ${String(response.headers["location"])}, expected the one sent`);
            if (target.arrived) fail(`${what}: the transport followed it (the other origin received a ${String(target.method)})`);
          } else if (target.arrived) {
            if (target.headers?.["authorization"] !== undefined) fail(`${what}: the followed request carried an authorization header to the other origin`);
          } else if (response.status !== status) {
            fail(`${what}: neither returned (status ${response.status}) nor followed (nothing reached the other origin)`);
          }
        }),
    );
  }

  add("reads response headers with lower-case names, repeated ones joined with \", \"", () =>
    h.withTransport(async (transport) => {
      const { url } = await h.url(routes.headers);
      const response = await send(transport, { method: "GET", url });
      expectStatus(response, 200, "headers");
      expectLowerCaseNames(response, "headers");
      const expect = (name: string, value: string): void => {
        if (response.headers[name] !== value) fail(`header ${name}: got ${JSON.stringify(response.headers[name])}, expected ${JSON.stringify(value)}`);
      };
      expect("x-conformance-mixed-case", "Value-Keeps-Its-Case");
      expect("x-conformance-repeated", "first, second");
      expect("x-goog-hash", "crc32c=n03x6A==, md5=XrY7u+Ae7tCTyyK7j1rNww==");
      expect("etag", '"conformance-etag"');
    }),
  );

  add("sends the method and every request header as given", () =>
    h.withTransport(async (transport) => {
      const given = {
        "content-type": "application/json; charset=UTF-8",
        "content-range": "bytes 0-1/2",
        "x-goog-hash": "crc32c=AAAAAA==,md5=1B2M2Y8AsgTpgAmY7PhCfg==",
        "x-upload-content-type": "text/plain",
        "x-goog-encryption-algorithm": "AES256",
      };
      for (const method of ["PUT", "POST", "GET", "DELETE"] as const) {
        const { url, id } = await h.url(routes.respond, { status: "200", body: "" });
        const body = method === "PUT" || method === "POST" ? [utf8("{}")] : [];
        expectStatus(await send(transport, { method, url, headers: given, body }), 200, method);
        const record = await h.record(id);
        if (record.method !== method) fail(`sent ${method}, the server received ${String(record.method)}`);
        for (const [name, value] of Object.entries(given)) {
          if (record.headers?.[name] !== value) fail(`${method}: header ${name} arrived as ${JSON.stringify(record.headers?.[name])}, expected ${JSON.stringify(value)}`);
        }
        if (body.length > 0 && record.bodyBytes !== 2) fail(`${method}: ${record.bodyBytes} body bytes arrived, expected 2`);
      }
    }),
  );

  add("sends an empty PUT with content-length 0 (a status query)", () =>
    h.withTransport(async (transport) => {
      const { url, id } = await h.url(routes.respond, { status: "308", body: "" });
      expectStatus(await send(transport, { method: "PUT", url, headers: { "content-range": "bytes */*" } }), 308, "status query");
      const record = await h.record(id);
      if (record.headers?.["content-length"] !== "0") fail(`an empty PUT went with content-length ${JSON.stringify(record.headers?.["content-length"])}, expected "0"`);
      if (record.headers?.["transfer-encoding"] !== undefined) fail(`an empty PUT went with transfer-encoding ${record.headers["transfer-encoding"]}`);
    }),
  );

  add("decodes a UTF-8 response body whose characters are split across network reads", () =>
    h.withTransport(async (transport) => {
      const { url } = await h.url(routes.utf8);
      const response = await send(transport, { method: "GET", url });
      expectStatus(response, 200, "utf8");
      if (response.body !== UTF8_TEXT) fail(`body decoded as ${JSON.stringify(response.body)}, expected ${JSON.stringify(UTF8_TEXT)}`);
    }),
  );

  add("writes body views in order, byte for byte (empty views, odd sizes, views into larger buffers)", () =>
    verified(h, awkwardViews(3 * MiB + 12_345, 11), 11, "awkward views"),
  );

  add(`sends a ${largeBodyBytes / MiB} MiB body intact`, async () => {
    const views: Uint8Array[] = [];
    for (let at = 0; at < largeBodyBytes; at += MiB) views.push(patternSlice(at, Math.min(MiB, largeBodyBytes - at), 23));
    await verified(h, views, 23, "large body");
  }, 180_000);

  if (capabilities.uploadProgress) {
    add("reports cumulative upload progress up to the body length", async () => {
      const length = 8 * MiB + 17;
      const seen: number[] = [];
      await verified(h, awkwardViews(length, 29), 29, "progress", { onUploadProgress: (n) => seen.push(n) });
      if (seen.length === 0) fail("no upload progress was reported");
      for (let i = 1; i < seen.length; i += 1) if (seen[i]! < seen[i - 1]!) fail(`progress went backwards: ${seen[i - 1]} then ${seen[i]}`);
      if (seen.some((n) => n > length)) fail(`progress went beyond the body length ${length}: ${Math.max(...seen)}`);
      if (seen.at(-1) !== length) fail(`progress ended at ${seen.at(-1)}, expected ${length}`);
    }, 60_000);
  } else {
    add("never calls onUploadProgress (its capabilities say it cannot observe uploads)", async () => {
      let calls = 0;
      await verified(h, awkwardViews(MiB, 31), 31, "no progress", { onUploadProgress: () => (calls += 1) });
      if (calls > 0) fail(`onUploadProgress was called ${calls} times by a transport declaring uploadProgress: false`);
    });
  }

  add("sends no authorization header, and asks the auth source nothing, when credentials is false", () =>
    h.withTransport(async (transport, auth) => {
      // A failing auth source must not matter either: a signed-URL upload works without any credentials.
      auth.failure = "no credentials configured (conformance)";
      const { url, id } = await h.url(routes.respond, { status: "200", body: "" });
      expectStatus(await send(transport, { method: "PUT", url, body: [utf8("x")], credentials: false }), 200, "credentials: false");
      const record = await h.record(id);
      if (record.headers?.["authorization"] !== undefined) fail("credentials: false, yet an authorization header was sent");
      if (auth.calls > 0) fail(`credentials: false, yet the auth source was asked for headers ${auth.calls} times`);
    }),
  );

  for (const shape of ["a plain record", "a Headers object"] as const) {
    add(`sends the auth source's headers when credentials is true (auth returns ${shape})`, () =>
      h.withTransport(async (transport, auth) => {
        auth.asHeadersObject = shape === "a Headers object";
        const { url, id } = await h.url(routes.respond, { status: "200", body: "" });
        expectStatus(await send(transport, { method: "PUT", url, headers: { "content-range": "bytes */*" }, credentials: true }), 200, "credentials: true");
        const record = await h.record(id);
        if (record.headers?.["authorization"] !== `Bearer ${auth.token()}`) fail("credentials: true, but the auth source's authorization header did not arrive");
        if (record.headers["x-goog-user-project"] !== "conformance-project") fail("credentials: true, but the auth source's x-goog-user-project header did not arrive");
        if (record.headers["content-range"] !== "bytes */*") fail("the request's own headers were lost when the auth headers were merged");
      }),
    );
  }

  add("refreshes the auth source before the request when refreshCredentials is true", () =>
    h.withTransport(async (transport, auth) => {
      const { url, id } = await h.url(routes.respond, { status: "200", body: "" });
      expectStatus(await send(transport, { method: "PUT", url, credentials: true, refreshCredentials: true }), 200, "refreshCredentials");
      if (auth.refreshes !== 1) fail(`refreshCredentials: true, auth.refresh() was called ${auth.refreshes} times, expected 1`);
      const record = await h.record(id);
      if (record.headers?.["authorization"] !== `Bearer ${auth.token()}`) fail("refreshCredentials: true, but the refreshed token was not the one sent");
    }),
  );

  add("rejects with kind \"auth\" (the source's reason, no secret) and sends nothing when the auth source fails", () =>
    h.withTransport(async (transport, auth) => {
      const reason = "could not load the default credentials (conformance)";
      auth.failure = reason;
      const { url, id } = await h.url(routes.respond, { status: "200", body: "" });
      const error = await h.expectRejection(send(transport, { method: "PUT", url, body: [utf8("x")], credentials: true }), ["auth"], "failing auth source");
      if (!error.message.includes(reason)) fail(`an auth failure must carry the auth source's reason; message was ${JSON.stringify(h.scrub(error.message))}`);
      if ((await h.record(id)).arrived) fail("the request was sent although the auth source failed");
    }),
  );

  add("rejects with kind \"network\" when the connection is refused", () =>
    h.withTransport(async (transport) => {
      const { refusedUrl } = await h.server();
      await h.expectRejection(
        send(transport, { method: "PUT", url: `${refusedUrl}/upload?upload_id=${h.uploadId}`, body: [utf8("x")], credentials: true }),
        ["network"],
        "connection refused",
      );
    }),
  );

  add("rejects with kind \"network\" when the connection is reset before any response", () =>
    h.withTransport(async (transport) => {
      const { url } = await h.url(routes.resetBefore);
      await h.expectRejection(send(transport, { method: "PUT", url, body: [patternSlice(0, 256 * KiB, 3)], credentials: true }), ["network"], "reset before the response");
    }),
  );

  add("rejects (\"network\" or \"truncated\") when the connection is reset in the middle of the response body", () =>
    h.withTransport(async (transport) => {
      const { url } = await h.url(routes.resetMid);
      await h.expectRejection(send(transport, { method: "PUT", url, body: [utf8("x")], credentials: true }), ["network", "truncated"], "reset mid-response");
    }),
  );

  add(`rejects with kind "truncated" when the body is shorter than its content-length (${PARTIAL_BODY_BYTES} of 1024 bytes, then a clean close)`, () =>
    h.withTransport(async (transport) => {
      const { url } = await h.url(routes.short);
      await h.expectRejection(send(transport, { method: "PUT", url, body: [utf8("x")], credentials: true }), ["truncated"], "short body");
    }),
  );

  for (const declared of [false, true]) {
    add(
      `refuses an oversized response body${declared ? " (declared in content-length)" : " (chunked, no length)"}: kind "truncated", tooLarge, reading stopped`,
      () =>
        h.withTransport(async (transport) => {
          const limit = 64 * KiB;
          const { url, id } = await h.url(routes.endless, { declared: declared ? "1" : "0" });
          const error = await h.expectRejection(send(transport, { method: "GET", url, maxResponseBytes: limit }), ["truncated"], "oversized body");
          if (error.tooLarge !== true) fail(`an oversized body must reject with tooLarge: true, got ${String(error.tooLarge)}`);
          // Memory bound, seen from the server: the transport let go of the connection, and before
          // that it took no more than the limit plus what socket buffers hold (not the 40 MiB on offer).
          const record = await h.waitFor(id, "the connection closing after the limit", (r) => r.socketClosed);
          // Loopback socket buffers hold about 10 MiB at most (4 MiB sent, 6 MiB received, on Linux).
          const bound = limit + 24 * MiB;
          if (record.bytesWritten > bound) fail(`the server wrote ${record.bytesWritten} bytes before the transport let go (limit ${limit}, bound ${bound}): the body was read on`);
          if (record.bytesWritten >= ENDLESS_CAP_BYTES) fail("the transport read the whole oversized body");
        }),
      60_000,
    );
  }

  for (const stage of ["before-headers", "after-headers", "during-body"] as const) {
    const when = { "before-headers": "before the response headers", "after-headers": "after the response headers, mid-body", "during-body": "while the request body is blocked" }[stage];
    add(`rejects with kind "aborted" and releases the connection when the signal aborts ${when}`, () =>
      h.withTransport(async (transport) => {
        const { url, id } = await h.url(routes.stall, { stage });
        const controller = new AbortController();
        const body = stage === "during-body" ? [patternSlice(0, 16 * MiB, 5)] : [utf8("{}")];
        const outcome = send(transport, { method: "PUT", url, body, signal: controller.signal, credentials: true });
        outcome.catch(() => undefined);
        await h.waitFor(id, `the exchange reaching the stall (${stage})`, (r) =>
          stage === "after-headers" ? r.responseStarted && r.bytesWritten > 0 : stage === "before-headers" ? r.bodyComplete : r.bodyBytes > 0,
        );
        // Let the client read what arrived (the headers), so the abort lands where the case says.
        await delay(50);
        controller.abort(new Error("conformance abort"));
        await h.expectRejection(outcome, ["aborted"], `abort ${when}`);
        if (stage === "during-body") await h.release(id);
        await h.waitFor(id, "the connection closing after the abort", (r) => r.socketClosed);
      }),
    );
  }

  add("rejects with kind \"aborted\", sending nothing, when the signal is already aborted", () =>
    h.withTransport(async (transport) => {
      const controller = new AbortController();
      controller.abort(new Error("already"));
      const { url, id } = await h.url(routes.respond, { status: "200", body: "" });
      await h.expectRejection(send(transport, { method: "PUT", url, body: [utf8("x")], signal: controller.signal, credentials: true }), ["aborted"], "pre-aborted signal");
      if ((await h.record(id)).arrived) fail("a request whose signal was already aborted reached the server");
    }),
  );

  return cases;
}
