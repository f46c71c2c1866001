/**
 * The fetch transport's own behaviour in every runtime, beyond the shared conformance suite: its
 * options (timeout, auth source, injected fetch), the response size limit, and how each failure is
 * classified.
 */
import { bearerTokenSource, type Transport, TransportError, type TransportRequest, type TransportResponse, type TransportSendOptions } from "@resumable-gcs/core";
import { createFetchTransport } from "../fetch-transport.js";
import { type SuiteCase, check } from "./case.js";
import { assertSameBytes, generated } from "./data.js";
import { faultStatus, objectBytes, registerFaults, startSession, uniqueName } from "./emulator-client.js";

const KIB = 1024;

function options(overrides: Partial<TransportSendOptions> = {}): TransportSendOptions {
  return { signal: new AbortController().signal, credentials: false, maxResponseBytes: 1024 * 1024, ...overrides };
}

function put(url: string, range: string, body: readonly Uint8Array[], extra: Record<string, string> = {}): TransportRequest {
  const bodyLength = body.reduce((sum, view) => sum + view.byteLength, 0);
  return { method: "PUT", url, headers: { "content-range": range, "content-length": String(bodyLength), ...extra }, body, bodyLength };
}

/** Resolves to the rejection of `promise` (a TransportError), failing when it resolves instead. */
async function rejection(promise: Promise<TransportResponse>, what: string): Promise<TransportError> {
  const outcome = await promise.then(
    (response) => ({ response }),
    (error: unknown) => ({ error }),
  );
  if ("response" in outcome) throw new Error(`${what}: expected a rejection, got status ${outcome.response.status}`);
  check(outcome.error instanceof TransportError, `${what}: rejected with ${String(outcome.error)}, not a TransportError`);
  return outcome.error;
}

/** A fetch double that records the request and answers 200 with an empty JSON object. */
function recordingFetch(): { fetch: typeof fetch; seen: Headers[] } {
  const seen: Headers[] = [];
  const fake = ((_input: RequestInfo | URL, init?: RequestInit) => {
    seen.push(new Headers(init?.headers));
    return Promise.resolve(new Response("{}", { status: 200, headers: { "content-type": "application/json" } }));
  }) as typeof fetch;
  return { fetch: fake, seen };
}

/** How a transport under test is made, with or without a hard timeout. */
export type TransportFactory = (options: { timeoutMs?: number }) => Transport;

/**
 * The cases every transport of this package passes (fetch everywhere, XMLHttpRequest in Chromium),
 * named "`label` transport: ...".
 */
export function transportCases(label: string, create: TransportFactory): SuiteCase[] {
  const describeTransport = (name: string, run: (transport: Transport, environment: Parameters<SuiteCase["run"]>[0]) => Promise<void>): SuiteCase => ({
    name: `${label} transport: ${name}`,
    run: (environment) => run(create({}), environment),
  });
  return [
    describeTransport("a chunk of many views arrives intact, its 308 keeps Range, the final PUT returns the object", async (transport, { emulatorUrl, bucket }) => {
      const name = uniqueName("fetch");
      const session = await startSession(emulatorUrl, bucket, name);
      const data = generated(256 * KIB + 1000, 3);
      const first = data.subarray(0, 256 * KIB);
      const views = [first.subarray(0, 1), first.subarray(1, 70_001), first.subarray(70_001)];
      const partial = await transport.send(put(session, `bytes 0-${256 * KIB - 1}/*`, views), options());
      check(partial.status === 308, `first chunk: status ${partial.status}`);
      check(partial.headers["range"] === `bytes=0-${256 * KIB - 1}`, `first chunk: range ${partial.headers["range"]}`);
      const last = await transport.send(put(session, `bytes ${256 * KIB}-${data.byteLength - 1}/${data.byteLength}`, [data.subarray(256 * KIB)]), options());
      check(last.status === 200, `final chunk: status ${last.status} ${last.body}`);
      check((JSON.parse(last.body) as { size: string }).size === String(data.byteLength), `final object size: ${last.body}`);
      assertSameBytes(await objectBytes(emulatorUrl, bucket, name), data, "stored object");
    }),
    describeTransport("a status query (empty PUT) gets a 308 without Range on a new session", async (transport, { emulatorUrl, bucket }) => {
      const session = await startSession(emulatorUrl, bucket, uniqueName("fetch"));
      const response = await transport.send(put(session, "bytes */*", []), options());
      check(response.status === 308, `status query: ${response.status} ${response.body}`);
      check(!("range" in response.headers), `a new session has no Range, got ${response.headers["range"]}`);
    }),
    describeTransport("a response larger than maxResponseBytes rejects as truncated with tooLarge", async (transport, { emulatorUrl, bucket }) => {
      const name = uniqueName("fetch");
      const session = await startSession(emulatorUrl, bucket, name);
      const data = generated(20_000, 4);
      await transport.send(put(session, `bytes 0-${data.byteLength - 1}/${data.byteLength}`, [data]), options());
      const download: TransportRequest = { method: "GET", url: `${emulatorUrl}/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}?alt=media`, headers: {}, body: [], bodyLength: 0 };
      const error = await rejection(transport.send(download, options({ maxResponseBytes: 1000 })), "oversized response");
      check(error.kind === "truncated" && error.tooLarge === true, `oversized response: kind ${error.kind}, tooLarge ${String(error.tooLarge)}`);
    }),
    describeTransport("an injected 503 comes back as a response with the JSON error body", async (transport, { emulatorUrl, bucket }) => {
      const id = await registerFaults(emulatorUrl, ["return-503"]);
      const session = await startSession(emulatorUrl, bucket, uniqueName("fetch"));
      const response = await transport.send(put(session, "bytes */*", [], { "x-retry-test-id": id }), options());
      check(response.status === 503, `injected 503: got ${response.status}`);
      check(response.body.includes('"error"'), `503 body: ${response.body}`);
    }),
    describeTransport("a reset connection rejects with kind network (or the runtime resent it on a fresh connection)", async (transport, { emulatorUrl, bucket }) => {
      const id = await registerFaults(emulatorUrl, ["return-reset-connection"]);
      const session = await startSession(emulatorUrl, bucket, uniqueName("fetch"));
      const sending = transport.send(put(session, `bytes 0-${256 * KIB - 1}/*`, [generated(256 * KIB, 5)], { "x-retry-test-id": id }), options());
      const outcome = await sending.then((response) => ({ response }), (error: unknown) => ({ error }));
      if ("response" in outcome) {
        // Chromium and Deno's HTTP client resend a request whose reused keep-alive connection was
        // reset before any response byte. Harmless here (a resent chunk repeats bytes the server
        // ignores); what matters is that the reset really happened and the answer is the true one.
        check(outcome.response.status === 308, `after the runtime's resend: status ${outcome.response.status}`);
        check((await faultStatus(emulatorUrl, id)).completed, "a response came back although the reset never happened");
        return;
      }
      const error = await rejection(sending, "reset");
      check(error.kind === "network", `reset: kind ${error.kind} (${error.message})`);
    }),
    describeTransport("a response cut after the object was committed rejects with kind truncated", async (transport, { emulatorUrl, bucket }) => {
      const id = await registerFaults(emulatorUrl, ["return-broken-stream-final-chunk-after-10B"]);
      const session = await startSession(emulatorUrl, bucket, uniqueName("fetch"));
      const error = await rejection(transport.send(put(session, "bytes 0-99/100", [generated(100, 6)], { "x-retry-test-id": id }), options()), "cut response");
      // XMLHttpRequest may fail the exchange before it exposes the headers, so a cut response can look
      // like a reset there (kind network); the engine treats both as "outcome unknown".
      const allowed = label === "xhr" ? ["truncated", "network"] : ["truncated"];
      check(allowed.includes(error.kind), `cut response: kind ${error.kind} (${error.message})`);
    }),
    {
      name: `${label} transport: timeoutMs ends a stalled exchange with kind timeout; an abort ends one with kind aborted`,
      async run({ emulatorUrl, bucket }) {
        const stalls = await registerFaults(emulatorUrl, ["stall-for-3s-after-128K", "stall-for-3s-after-128K"]);
        const session = await startSession(emulatorUrl, bucket, uniqueName("fetch"));
        const body = [generated(256 * KIB, 7)];
        const timed = create({ timeoutMs: 300 });
        const timeout = await rejection(timed.send(put(session, `bytes 0-${256 * KIB - 1}/*`, body, { "x-retry-test-id": stalls }), options()), "timeout");
        check(timeout.kind === "timeout", `timeout: kind ${timeout.kind} (${timeout.message})`);
        const controller = new AbortController();
        const pending = create({}).send(put(session, `bytes 0-${256 * KIB - 1}/*`, body, { "x-retry-test-id": stalls }), options({ signal: controller.signal }));
        setTimeout(() => controller.abort(), 200);
        const aborted = await rejection(pending, "abort");
        check(aborted.kind === "aborted", `abort: kind ${aborted.kind} (${aborted.message})`);
        controller.abort();
        const already = await rejection(create({}).send(put(session, "bytes */*", []), options({ signal: controller.signal })), "already aborted");
        check(already.kind === "aborted", `already aborted: kind ${already.kind}`);
      },
    },
  ];
}

/** The fetch transport: the shared cases plus its own options (injected fetch, auth source). */
export const fetchTransportCases: readonly SuiteCase[] = [
  ...transportCases("fetch", (options) => createFetchTransport(options)),
  {
    name: "fetch transport: auth headers only with credentials, a refresh first when asked, an auth failure is kind auth",
    async run({ emulatorUrl }) {
      const recording = recordingFetch();
      let refreshes = 0;
      let token = "first";
      const auth = {
        ...bearerTokenSource(() => token),
        refresh: () => {
          refreshes += 1;
          token = "second";
          return Promise.resolve();
        },
      };
      const transport = createFetchTransport({ auth, fetch: recording.fetch });
      const request: TransportRequest = { method: "GET", url: `${emulatorUrl}/storage/v1/b/x`, headers: { "x-goog-user-project": "p" }, body: [], bodyLength: 0 };
      await transport.send(request, options({ credentials: false }));
      await transport.send(request, options({ credentials: true }));
      await transport.send(request, options({ credentials: true, refreshCredentials: true }));
      check(recording.seen[0]?.get("authorization") === null, "credentials: false still sent an authorization header");
      check(recording.seen[0]?.get("x-goog-user-project") === "p", "the request's own headers were not sent");
      check(recording.seen[1]?.get("authorization") === "Bearer first", `credentials: true sent ${recording.seen[1]?.get("authorization")}`);
      check(refreshes === 1 && recording.seen[2]?.get("authorization") === "Bearer second", `refreshCredentials: ${refreshes} refreshes, sent ${recording.seen[2]?.get("authorization")}`);
      const failing = createFetchTransport({ auth: bearerTokenSource(() => Promise.reject(new Error("no token for you"))), fetch: recording.fetch });
      const error = await rejection(failing.send(request, options({ credentials: true })), "auth failure");
      check(error.kind === "auth" && error.message.includes("no token for you"), `auth failure: kind ${error.kind}, message ${error.message}`);
      check(recording.seen.length === 3, "a request went out although its auth headers failed");
    },
  },
];
