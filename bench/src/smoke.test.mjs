// The benchmark's smoke mode, end to end, so `pnpm bench` cannot rot: every row completes and the
// emulator holds an object of the right size. No timing assertions: figures vary by machine.
import { describe, expect, it } from "vitest";
import { CLIENTS, SMALL_CLIENTS, parallelClients, runTable } from "./run.mjs";

const KiB = 1024;
const MiB = 1024 * KiB;

describe("bench smoke", () => {
  it("runs every client at 64 KiB and 4 MiB with CRC32C on and off", { timeout: 240_000 }, async () => {
    const rows = await runTable({ latencyMs: 0, sizes: [64 * KiB, 4 * MiB], chunkSizes: [256 * KiB, MiB], reps: 1, repsLarge: 1, clients: [...CLIENTS, ...parallelClients(5 * MiB)] });
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const [run] = row.runs;
      expect(run, `${row.kind} ${row.size} ${row.chunkSize} ${row.checksum}`).toMatchObject({ ok: true, bytes: row.size });
      // Ours below one chunk: one request by default (uploadType=multipart); anyone else, a session start and more.
      const oneRequest = ["node", "node-http", "web", "iter"].includes(row.kind) && row.size < row.chunkSize;
      if (oneRequest) expect(run.requests, `${row.kind} ${row.size} ${row.chunkSize}`).toBe(1);
      else expect(run.requests, `${row.kind} ${row.size} ${row.chunkSize}`).toBeGreaterThanOrEqual(2);
      expect(run.peakRssMiB).toBeGreaterThan(0);
    }
    // Every client uploaded the same bytes: one CRC32C per size, as the emulator computed it.
    for (const size of [64 * KiB, 4 * MiB]) {
      const crcs = new Set(rows.filter((r) => r.size === size).map((r) => r.runs[0].crc32c));
      expect(crcs.size, `CRC32C values at ${size} bytes: ${[...crcs].join(", ")}`).toBe(1);
    }
    expect(rows.filter((r) => r.kind === "raw-put").length).toBe(2);
    // The peer's default single-request mode: session start and one open-ended PUT.
    const single = rows.filter((r) => r.kind === "gcs");
    expect(single.length).toBe(4);
    for (const row of single) expect(row.runs[0].requests, `gcs ${row.size} ${row.checksum}`).toBe(2);
    // The multipart engine below one part: initiate, one part, complete.
    for (const row of rows.filter((r) => r.kind.startsWith("node-multipart"))) expect(row.runs[0].requests, `${row.kind} ${row.size}`).toBe(3);
  });

  it("uploads a small object in one request by default, in two with singleRequest: never", { timeout: 120_000 }, async () => {
    const rows = await runTable({ latencyMs: 0, sizes: [100 * KiB], chunkSizes: [MiB], reps: 1, repsLarge: 1, clients: SMALL_CLIENTS });
    const requests = Object.fromEntries(rows.filter((r) => r.checksum === "crc32c").map((r) => [r.kind, r.runs[0].requests]));
    for (const row of rows) expect(row.runs[0], `${row.kind} ${row.checksum}`).toMatchObject({ ok: true, bytes: 100 * KiB });
    expect(requests).toEqual({ node: 1, "node-resumable": 2, gcs: 2 });
  });
});
