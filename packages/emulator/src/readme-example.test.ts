import { afterAll, beforeAll, expect, it } from "vitest";
import { faultHeaders, useEmulator } from "./index.js";

const gcs = useEmulator({ beforeAll, afterAll }, { buckets: ["my-bucket"] });

// The code under test: a small resumable upload in one PUT. After any failure it asks the server where
// the upload stands (an object that is already final answers 200) and sends the request again.
async function upload(name: string, data: Uint8Array, headers: Record<string, string>): Promise<{ size: string }> {
  const start = `${gcs.url}/upload/storage/v1/b/my-bucket/o?uploadType=resumable&name=${name}`;
  let started = await fetch(start, { method: "POST", headers });
  if (started.status === 503) started = await fetch(start, { method: "POST", headers });
  const session = started.headers.get("location");
  if (session === null) throw new Error(`session start answered ${started.status}`);
  for (let attempt = 1; attempt <= 5; attempt++) {
    const range = `bytes 0-${data.length - 1}/${data.length}`;
    const sent = await fetch(session, { method: "PUT", headers: { ...headers, "content-range": range }, body: data })
      .then(async (response) => (response.ok ? ((await response.json()) as { size: string }) : undefined))
      .catch(() => undefined); // a reset connection, or a response cut mid-body
    if (sent !== undefined) return sent;
    const status = await fetch(session, { method: "PUT", headers: { ...headers, "content-range": `bytes */${data.length}` } });
    if (status.ok) return (await status.json()) as { size: string };
  }
  throw new Error("upload failed after 5 attempts");
}

it("survives a 503 on the session start and a reset connection on the first chunk", async () => {
  const headers = faultHeaders(gcs, ["start:return-503", "chunk#1:return-reset-connection"]);
  const data = new TextEncoder().encode("hello, faults");
  expect(await upload("a.txt", data, headers)).toMatchObject({ size: String(data.length) });
  expect(gcs.getObject("my-bucket", "a.txt")?.data).toEqual(data);
  expect(gcs.getRetryTest(headers["x-retry-test-id"])?.completed).toBe(true); // every fault was used
});

it("finds the object when the final response was cut after the server committed it", async () => {
  const headers = faultHeaders(gcs, ["final:return-broken-stream-final-chunk-after-10B"]);
  const data = new TextEncoder().encode("committed, but the answer was lost");
  expect(await upload("b.txt", data, headers)).toMatchObject({ size: String(data.length) });
  expect(gcs.getObject("my-bucket", "b.txt")?.size).toBe(data.length);
  expect(gcs.getRetryTest(headers["x-retry-test-id"])?.completed).toBe(true);
});
