import { afterAll, beforeAll, expect, it } from "vitest";
import { faultHeaders, useEmulator } from "@resumable-gcs/emulator";
import { uploadFrom } from "@resumable-gcs/node";

const gcs = useEmulator({ beforeAll, afterAll }, { buckets: ["my-bucket"] });

// Your upload code, pointed at the emulator: its URL as the API endpoint, the fault header on every
// request, and short retry delays (the faults are instant; the default backoff waits a second or more).
function upload(name: string, data: Uint8Array, extraHeaders: Record<string, string>) {
  return uploadFrom([data], {
    bucket: "my-bucket",
    name,
    apiEndpoint: gcs.url,
    chunkSize: 256 * 1024,
    extraHeaders,
    retry: { initialDelayMs: 1, maxDelayMs: 10 },
  });
}

it("survives a reset in the middle of the second chunk and a lost final response", async () => {
  const headers = faultHeaders(gcs, ["chunk#2:return-reset-connection-after-100K", "final:return-broken-stream-final-chunk-after-10B"]);
  const data = new Uint8Array(3 * 256 * 1024 + 5).map((_, i) => (i * 7) % 251);
  const object = await upload("backup.bin", data, headers);
  expect(object.size).toBe(String(data.length));
  expect(gcs.getObject("my-bucket", "backup.bin")?.data).toEqual(data);
  expect(gcs.getRetryTest(headers["x-retry-test-id"])?.completed).toBe(true); // every fault was used
});

it("reports a session that is gone as a typed error, and nothing is stored", async () => {
  const headers = faultHeaders(gcs, ["chunk#2:return-410"]);
  await expect(upload("gone.bin", new Uint8Array(600_000), headers)).rejects.toMatchObject({ code: "session-expired" });
  expect(gcs.getObject("my-bucket", "gone.bin")).toBeUndefined();
});
