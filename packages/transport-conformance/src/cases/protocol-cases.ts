/**
 * Cases that speak the real resumable-upload protocol to `@resumable-gcs/emulator`: a session start,
 * 308s with and without `Range`, a finalize, a cancel, and injected faults (storage-testbench's
 * vocabulary, through `/retry_test` and `x-retry-test-id`). Everything goes through the transport
 * under test, so these also prove it can carry a whole upload.
 */
import { printableAt } from "../pattern.js";
import { delay, expectLowerCaseNames, expectStatus, fail, send, utf8, type ConformanceCase, type Harness } from "./harness.js";
import type { Transport, TransportResponse } from "@resumable-gcs/core";

const CHUNK = 256 * 1024;

interface Session {
  readonly sessionUri: string;
  readonly name: string;
}

/** The protocol cases. */
export function protocolCases(h: Harness): ConformanceCase[] {
  const bucket = h.options.bucket ?? "conformance-bucket";
  let objects = 0;

  async function emulator(): Promise<string> {
    return (await h.server()).emulatorUrl;
  }

  async function registerFaults(instructions: readonly string[]): Promise<string> {
    const response = await fetch(`${await emulator()}/retry_test`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ instructions: { "storage.objects.insert": instructions } }),
    });
    if (response.status !== 200) fail(`registering faults ${instructions.join(", ")}: status ${response.status}`);
    return ((await response.json()) as { id: string }).id;
  }

  async function faultsUsed(id: string): Promise<boolean> {
    const response = await fetch(`${await emulator()}/retry_test/${encodeURIComponent(id)}`);
    return ((await response.json()) as { completed?: boolean }).completed === true;
  }

  async function startSession(transport: Transport, metadata: Record<string, string> = {}): Promise<Session> {
    objects += 1;
    const name = `conformance/${Date.now().toString(36)}-${objects}.bin`;
    const response = await send(transport, {
      method: "POST",
      url: `${await emulator()}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&name=${encodeURIComponent(name)}`,
      headers: { "content-type": "application/json; charset=UTF-8", "x-upload-content-type": "application/octet-stream" },
      body: [utf8(JSON.stringify({ name, metadata }))],
    });
    expectStatus(response, 200, "session start");
    expectLowerCaseNames(response, "session start");
    const sessionUri = response.headers["location"];
    if (sessionUri === undefined || !sessionUri.includes("upload_id=")) fail("session start: no lower-case `location` header carrying an upload_id");
    return { sessionUri, name };
  }

  function put(transport: Transport, session: Session, range: string, body: readonly Uint8Array[], extra: Record<string, string> = {}, signal?: AbortSignal): Promise<TransportResponse> {
    return send(transport, { method: "PUT", url: session.sessionUri, headers: { "content-range": range, ...extra }, body, ...(signal === undefined ? {} : { signal }) });
  }

  /** `length` printable bytes, so the object can come back through the transport as response text. */
  function printable(length: number, seed: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i += 1) out[i] = printableAt(i, seed);
    return out;
  }

  const cases: ConformanceCase[] = [];
  const add = (name: string, run: () => Promise<void>, timeoutMs = 30_000): void => {
    cases.push({ name, run, timeoutMs });
  };

  add("protocol: starts a session (200 with a lower-case location) and answers a new session's status query with a 308 without range", () =>
    h.withTransport(async (transport) => {
      const session = await startSession(transport);
      const query = await put(transport, session, "bytes */*", []);
      expectStatus(query, 308, "status query on a new session");
      if ("range" in query.headers) fail(`a new session answers 308 without range, got range ${query.headers["range"]}`);
    }),
  );

  add("protocol: a chunk's 308 carries a readable range; the finalize returns the object, UTF-8 metadata intact", () =>
    h.withTransport(async (transport) => {
      const metadata = { café: "naïve ✓", emoji: "🚀" };
      const session = await startSession(transport, metadata);
      const chunk = await put(transport, session, `bytes 0-${CHUNK - 1}/*`, [printable(CHUNK, 1)]);
      expectStatus(chunk, 308, "first chunk");
      if (chunk.headers["range"] !== `bytes=0-${CHUNK - 1}`) fail(`expected range bytes=0-${CHUNK - 1}, got ${String(chunk.headers["range"])}`);
      const final = await put(transport, session, `bytes ${CHUNK}-${CHUNK + 9}/${CHUNK + 10}`, [printable(10, 2)]);
      expectStatus(final, 200, "final chunk");
      const object = JSON.parse(final.body) as { size?: string; metadata?: Record<string, string> };
      if (object.size !== String(CHUNK + 10)) fail(`object size ${String(object.size)}, expected ${CHUNK + 10}`);
      if (object.metadata?.["café"] !== metadata.café || object.metadata["emoji"] !== metadata.emoji) {
        fail(`UTF-8 metadata came back as ${JSON.stringify(object.metadata)}`);
      }
    }),
  );

  add("protocol: many body views arrive in order (the object reads back byte for byte)", () =>
    h.withTransport(async (transport) => {
      const session = await startSession(transport);
      const all = printable(900_001, 3);
      const views: Uint8Array[] = [];
      for (let at = 0, step = 1; at < all.byteLength; at += step, step = ((step * 7) % 65_521) + 1) views.push(all.subarray(at, Math.min(all.byteLength, at + step)));
      expectStatus(await put(transport, session, `bytes 0-${all.byteLength - 1}/${all.byteLength}`, views), 200, "single final request");
      const download = await send(transport, {
        method: "GET",
        url: `${await emulator()}/storage/v1/b/${bucket}/o/${encodeURIComponent(session.name)}?alt=media`,
        maxResponseBytes: 2 * all.byteLength,
      });
      expectStatus(download, 200, "download");
      const expected = new TextDecoder().decode(all);
      if (download.body !== expected) {
        let at = 0;
        while (at < expected.length && download.body[at] === expected[at]) at += 1;
        fail(`the stored object differs from the views sent, first at offset ${at}`);
      }
    }),
  );

  add("protocol: a zero-byte finalize (bytes */0, no body) returns the empty object", () =>
    h.withTransport(async (transport) => {
      const session = await startSession(transport);
      const response = await put(transport, session, "bytes */0", []);
      expectStatus(response, 200, "zero-byte finalize");
      if ((JSON.parse(response.body) as { size?: string }).size !== "0") fail(`zero-byte object has size ${response.body}`);
    }),
  );

  add("protocol: returns injected 503 and a 404 for an unknown session as responses with their JSON error bodies", () =>
    h.withTransport(async (transport) => {
      const session = await startSession(transport);
      const id = await registerFaults(["return-503"]);
      expectStatus(await put(transport, session, "bytes */*", [], { "x-retry-test-id": id }), 503, "injected 503");
      const missing = await put(transport, { ...session, sessionUri: `${session.sessionUri}x` }, "bytes */*", []);
      expectStatus(missing, 404, "unknown session");
      if (!missing.body.includes("error")) fail("a 4xx must carry the server's JSON error body");
    }),
  );

  add("protocol: a cancel (DELETE) answers 499, and the session is gone afterwards (404)", () =>
    h.withTransport(async (transport) => {
      const session = await startSession(transport);
      expectStatus(await send(transport, { method: "DELETE", url: session.sessionUri }), 499, "cancel");
      expectStatus(await put(transport, session, "bytes */*", []), 404, "status query after the cancel");
    }),
  );

  add("protocol: rejects (kind \"network\") on return-reset-connection, without a secret in the error", () =>
    h.withTransport(async (transport) => {
      const session = await startSession(transport);
      // Twice: a browser resends a request once by itself when a kept-alive connection resets before
      // any response (it takes that for a stale socket), so one reset would never reach its transport.
      const id = await registerFaults(["return-reset-connection", "return-reset-connection"]);
      // The session's own upload id is a secret too.
      const uploadId = new URL(session.sessionUri).searchParams.get("upload_id") ?? "";
      await h.expectRejection(put(transport, session, `bytes 0-${CHUNK - 1}/*`, [printable(CHUNK, 4)], { "x-retry-test-id": id }), ["network"], "reset connection", [uploadId]);
    }),
  );

  add("protocol: rejects (\"truncated\" or \"network\") when the final response is cut after the commit; the object is final", () =>
    h.withTransport(async (transport) => {
      const session = await startSession(transport);
      const id = await registerFaults(["return-broken-stream-final-chunk-after-10B"]);
      const uploadId = new URL(session.sessionUri).searchParams.get("upload_id") ?? "";
      await h.expectRejection(put(transport, session, "bytes 0-99/100", [printable(100, 5)], { "x-retry-test-id": id }), ["truncated", "network"], "cut final response", [uploadId]);
      const after = await put(transport, session, "bytes */100", []);
      if (after.status !== 200 && after.status !== 201) fail(`the committed object should answer the query with 200, got ${after.status}`);
    }),
  );

  add("protocol: abandons a stalled chunk (stall-for-10s-after-128K) with kind \"aborted\" when the signal aborts", () =>
    h.withTransport(async (transport) => {
      const session = await startSession(transport);
      const id = await registerFaults(["stall-for-10s-after-128K"]);
      const controller = new AbortController();
      const outcome = put(transport, session, `bytes 0-${CHUNK - 1}/*`, [printable(CHUNK, 6)], { "x-retry-test-id": id }, controller.signal);
      outcome.catch(() => undefined);
      // Abort once the emulator has taken the stall instruction (the request is inside the stall).
      for (let attempt = 0; attempt < 500 && !(await faultsUsed(id)); attempt += 1) await delay(20);
      controller.abort(new Error("conformance abort"));
      await h.expectRejection(outcome, ["aborted"], "abort during a stall");
      const query = await put(transport, session, "bytes */*", []);
      expectStatus(query, 308, "status query after the abort");
    }),
  );

  return cases;
}
