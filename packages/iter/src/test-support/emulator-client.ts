/**
 * The emulator seen over HTTP only, with the runtime's own fetch, so cases set up faults and check
 * stored objects the same way in every runtime, whatever process the emulator runs in.
 */

async function expectOk(response: Response, what: string): Promise<Response> {
  if (!response.ok) throw new Error(`${what}: status ${response.status} ${(await response.text()).slice(0, 300)}`);
  return response;
}

/** Registers fault instructions for uploads; returns the headers to send on the upload's requests. */
export async function faultHeaders(baseUrl: string, instructions: readonly string[]): Promise<{ "x-retry-test-id": string }> {
  const response = await expectOk(
    await fetch(`${baseUrl}/retry_test`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ instructions: { "storage.objects.insert": instructions } }),
    }),
    "registering faults",
  );
  return { "x-retry-test-id": ((await response.json()) as { id: string }).id };
}

/** What is left of a registered fault list, and whether every instruction was used. */
export async function faultStatus(baseUrl: string, headers: { "x-retry-test-id": string }): Promise<{ instructions: Record<string, string[]>; completed: boolean }> {
  const response = await expectOk(await fetch(`${baseUrl}/retry_test/${encodeURIComponent(headers["x-retry-test-id"])}`), "reading faults");
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
export async function objectBytes(baseUrl: string, bucket: string, name: string): Promise<Uint8Array> {
  const response = await expectOk(await fetch(`${baseUrl}/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(name)}?alt=media`), "object download");
  return new Uint8Array(await response.arrayBuffer());
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
