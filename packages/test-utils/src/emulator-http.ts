/**
 * The emulator seen over HTTP only, with the runtime's own `fetch`, so the adapters' suites set up
 * faults and check stored objects the same way in every runtime (Node, Deno, Bun, workerd, a page),
 * whatever process the emulator runs in. Runtime-neutral: no Node built-ins.
 */

/** Returns `response` when it is 2xx; otherwise throws naming `what`, the status and the start of the body. */
export async function expectOk(response: Response, what: string): Promise<Response> {
  if (!response.ok) throw new Error(`${what}: status ${response.status} ${(await response.text()).slice(0, 300)}`);
  return response;
}

/** Creates `bucket` (a 409 for an existing one is fine). */
export async function ensureBucket(baseUrl: string, bucket: string): Promise<void> {
  const response = await fetch(`${baseUrl}/storage/v1/b`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: bucket }) });
  if (response.status !== 200 && response.status !== 409) await expectOk(response, `creating bucket ${bucket}`);
  else await response.body?.cancel();
}

/** Registers fault instructions for uploads (`storage.objects.insert`); returns the id to send as `x-retry-test-id`. */
export async function registerFaults(baseUrl: string, instructions: readonly string[]): Promise<string> {
  const response = await expectOk(
    await fetch(`${baseUrl}/retry_test`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ instructions: { "storage.objects.insert": instructions } }) }),
    "registering faults",
  );
  return ((await response.json()) as { id: string }).id;
}

/** What is left of a registered fault list, and whether every instruction was used. */
export async function faultStatus(baseUrl: string, id: string): Promise<{ instructions: Record<string, string[]>; completed: boolean }> {
  const response = await expectOk(await fetch(`${baseUrl}/retry_test/${encodeURIComponent(id)}`), "reading faults");
  return (await response.json()) as { instructions: Record<string, string[]>; completed: boolean };
}

/** The stored object's metadata, or undefined when it does not exist. */
export async function objectMetadata(baseUrl: string, bucket: string, name: string): Promise<Record<string, unknown> | undefined> {
  const response = await fetch(`${baseUrl}/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(name)}`);
  if (response.status === 404) {
    await response.body?.cancel();
    return undefined;
  }
  return (await (await expectOk(response, "object metadata")).json()) as Record<string, unknown>;
}

/** The stored object's bytes. */
export async function objectBytes(baseUrl: string, bucket: string, name: string): Promise<Uint8Array<ArrayBuffer>> {
  const response = await expectOk(await fetch(`${baseUrl}/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(name)}?alt=media`), "object download");
  return new Uint8Array(await response.arrayBuffer());
}

/** Starts a JSON-API resumable session by hand (for transport-level cases); returns its URI. */
export async function startSession(baseUrl: string, bucket: string, name: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await expectOk(
    await fetch(`${baseUrl}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}`, {
      method: "POST",
      headers: { "content-type": "application/json; charset=UTF-8", ...headers },
      body: JSON.stringify({ name }),
    }),
    "session start",
  );
  await response.body?.cancel();
  const location = response.headers.get("location");
  if (location === null) throw new Error("session start: no Location header");
  return location;
}

/** The status of a session, asked as a client would (`bytes *\/*`): 308 open, 404/410 gone, 200 final. */
export async function sessionStatus(sessionUri: string): Promise<number> {
  const response = await fetch(sessionUri, { method: "PUT", headers: { "content-range": "bytes */*" } });
  await response.body?.cancel();
  return response.status;
}

let counter = 0;

/** A unique object name per call, so cases never collide within one emulator. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}/${Date.now().toString(36)}-${counter}-${Math.floor(Math.random() * 1e9).toString(36)}.bin`;
}
