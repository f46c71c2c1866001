/**
 * Model-based property tests: the machine against the in-memory GCS model under random fault
 * schedules, random write sizes and chunk sizes. Runs 1000 cases per property when `CI` is set
 * (fewer locally); `FC_NUM_RUNS` and `FC_SEED` override; fast-check prints the seed and the shrunk
 * counterexample on failure.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UploadMachine } from "./machine.js";
import { CHUNK, bytesOf, crcB64, drive, md5B64, nodeChecksums, type TraceEntry } from "./harness.test-utils.js";
import type { UploadOptions } from "./options.js";
import { GcsModel, type ModelFault } from "./test-support/gcs-model.js";
import { seededRandom } from "./test-support/random.js";

const numRuns = process.env.FC_NUM_RUNS !== undefined ? Number(process.env.FC_NUM_RUNS) : process.env.CI ? 1000 : 150;
const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : undefined;
const params = { numRuns, ...(seed === undefined ? {} : { seed }) };

const MiB = 1024 * 1024;

const faultArb: fc.Arbitrary<ModelFault> = fc.oneof(
  fc.constantFrom(408, 429, 500, 502, 503, 504).map<ModelFault>((status) => ({ kind: "status", status })),
  fc.record({ status: fc.constantFrom(500, 503), afterBytes: fc.nat({ max: 4 * CHUNK }) }).map<ModelFault>((f) => ({ kind: "status", ...f })),
  fc.nat({ max: 4 * CHUNK }).map<ModelFault>((afterBytes) => ({ kind: "reset", afterBytes })),
  fc.nat({ max: 4 * CHUNK }).map<ModelFault>((keepBytes) => ({ kind: "short-ack", keepBytes })),
  fc.constant<ModelFault>({ kind: "lose-response" }),
  fc.constant<ModelFault>({ kind: "truncate" }),
  // A complete message whose final object JSON is cut (at least one character: "{…"): outcome unknown.
  fc.integer({ min: 1, max: 120 }).map<ModelFault>((keepBytes) => ({ kind: "cut-body", keepBytes })),
  fc.nat({ max: 4 * CHUNK }).map<ModelFault>((afterBytes) => ({ kind: "stall", afterBytes })),
);

interface Scenario {
  readonly size: number;
  readonly chunks: number;
  readonly writeSizes: number[];
  readonly knownTotal: boolean;
  readonly md5: boolean;
  readonly faults: (ModelFault | null)[];
  readonly jitterSeed: number;
  readonly crashAtStep: number | null;
}

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  size: fc.oneof(fc.nat({ max: 2000 }), fc.nat({ max: 3 * MiB }), fc.integer({ min: 1, max: 8 }).map((n) => n * CHUNK)),
  chunks: fc.integer({ min: 1, max: 4 }),
  writeSizes: fc.array(fc.oneof(fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 1, max: 600_000 })), { minLength: 1, maxLength: 5 }),
  knownTotal: fc.boolean(),
  md5: fc.boolean(),
  faults: fc.array(fc.option(faultArb, { freq: 2 }), { maxLength: 30 }),
  jitterSeed: fc.integer(),
  crashAtStep: fc.option(fc.nat({ max: 60 }), { freq: 3 }),
});

/** Write sizes as used: tiny writes are kept for small objects, but no upload takes more than ~4096 writes. */
function writeSizesFor(s: Scenario): number[] {
  return s.writeSizes.map((w) => Math.max(w, Math.ceil(s.size / 4096)));
}

function optionsFor(s: Scenario, overrides: Partial<UploadOptions> = {}): UploadOptions {
  return {
    target: { kind: "json", bucket: "bkt", name: "obj" },
    random: seededRandom(s.jitterSeed),
    chunkSize: s.chunks * CHUNK,
    checksums: nodeChecksums,
    checksum: s.md5 ? "both" : "crc32c",
    retry: { maxAttempts: 100, deadlineMs: 1e12 },
    ...(s.knownTotal ? { totalSize: s.size } : {}),
    ...overrides,
  };
}

interface Run {
  readonly trace: TraceEntry[];
  readonly outcome: string;
  readonly model: GcsModel;
}

/** Runs one scenario, checking the step invariants as it goes; crashes and restores if asked. */
function run(s: Scenario, source: Uint8Array, overrides: Partial<UploadOptions> = {}): Run {
  // With MD5 on, the model checks md5= in X-Goog-Hash and returns md5Hash, which the machine verifies.
  const model = new GcsModel({ faults: s.faults, ...(s.md5 ? { md5: nodeChecksums.md5! } : {}) });
  const chunkSize = s.chunks * CHUNK;
  const writeSizes = writeSizesFor(s);
  const maxWrite = Math.max(...writeSizes);
  let lastPersisted = 0;
  let steps = 0;
  const check = (m: UploadMachine): void => {
    steps++;
    // Persisted never decreases, and never exceeds what the server really holds.
    expect(m.bytesPersisted).toBeGreaterThanOrEqual(lastPersisted);
    lastPersisted = m.bytesPersisted;
    const session = model.sessions.at(-1);
    if (session !== undefined && m.sessionUri === session.uri) expect(m.bytesPersisted).toBeLessThanOrEqual(session.persisted);
    // Memory: at most a chunk in flight plus a chunk and one write accepted while wantsData was true
    // (with an unknown total, a full chunk is held until a byte beyond it: that byte comes within the
    // same one write).
    expect(m.bytesBuffered).toBeLessThanOrEqual(2 * chunkSize + maxWrite);
    if (s.crashAtStep !== null && steps === s.crashAtStep && !m.isFinished && m.sessionUri !== undefined) m.abort("simulated crash");
  };
  const first = new UploadMachine(optionsFor(s, overrides));
  let result = drive(first, model, source, { writeSizes, onStep: check });
  const trace = [...result.trace];
  if (result.action.type === "failed" && result.action.error.code === "aborted") {
    // A new process: restore from the JSON checkpoint, replay the source from resumeOffset.
    const checkpoint = JSON.parse(JSON.stringify(first.checkpoint())) as unknown;
    const second = UploadMachine.restore(checkpoint, optionsFor(s, overrides));
    lastPersisted = 0;
    result = drive(second, model, source, { writeSizes, onStep: check });
    trace.push(...result.trace);
    if (result.action.type === "done") expect(result.action.object.crc32c).toBe(crcB64(source));
  }
  for (const session of model.sessions) {
    for (let i = 1; i < session.history.length; i++) expect(session.history[i]).toBeGreaterThanOrEqual(session.history[i - 1]!);
  }
  // No byte below the persisted offset was sent twice, no gap, no short non-final chunk, ever.
  expect(model.violations).toEqual([]);
  const outcome = result.action.type === "failed" ? `failed:${result.action.error.code}` : result.action.type;
  return { trace, outcome, model };
}

// Thousands of whole uploads per property in CI: far beyond vitest's default 5 s per test.
describe("UploadMachine against the GCS model (property)", { timeout: 180_000 }, () => {
  it("delivers exactly the source, verified, whatever the faults, writes and chunk sizes", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const source = bytesOf(s.size, s.size ^ s.jitterSeed);
        const { outcome, model } = run(s, source);
        expect(outcome).toBe("done");
        const object = model.object("bkt", "obj")!;
        expect(object.content!.length).toBe(source.length);
        expect(Buffer.from(object.content!).equals(Buffer.from(source))).toBe(true);
        expect(object.resource.crc32c).toBe(crcB64(source));
        expect(object.resource.size).toBe(String(source.length));
        if (s.md5) expect(object.resource.md5Hash).toBe(md5B64(source));
      }),
      params,
    );
  });

  it("without faults, takes one session request per chunk: no empty finalize unless the object is empty", () => {
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        const s = { ...scenario, faults: [], crashAtStep: null };
        const source = bytesOf(s.size, 3);
        const { trace, outcome } = run(s, source);
        expect(outcome).toBe("done");
        const chunkSize = s.chunks * CHUNK;
        const puts = trace.filter((t) => t.method === "PUT");
        expect(trace.map((t) => t.purpose)).toEqual(["start", ...puts.map((t) => t.purpose)]);
        expect(puts).toHaveLength(Math.max(1, Math.ceil(s.size / chunkSize)));
        // Only the last request finalizes, states the total and carries the hash; it has a body
        // unless the object is empty.
        puts.forEach((t, i) => {
          const last = i === puts.length - 1;
          expect(t.purpose).toBe(last ? "finalize" : "chunk");
          expect(t.hash !== undefined).toBe(last);
          // A chunk sent after end() states the total too, even when it was not declared.
          if (last || s.knownTotal) expect(t.range).toMatch(new RegExp(`/${s.size}$`));
          else expect(t.range).toMatch(new RegExp(`/(\\*|${s.size})$`));
        });
        expect(puts.at(-1)!.length).toBe(s.size === 0 ? 0 : s.size - (puts.length - 1) * chunkSize);
      }),
      { ...params, numRuns: Math.max(1, Math.ceil(numRuns / 4)) },
    );
  });

  it("gives the same trace for the same seed", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const source = bytesOf(s.size, 1);
        const a = run(s, source);
        const b = run(s, source);
        expect(b.trace).toEqual(a.trace);
        expect(b.outcome).toBe(a.outcome);
      }),
      { ...params, numRuns: Math.max(1, Math.ceil(numRuns / 4)) },
    );
  });

  it("with a tight retry budget, ends either done and correct or with a typed, retryable give-up", () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 1, max: 4 }), (s, maxAttempts) => {
        const source = bytesOf(s.size, 5);
        const { outcome, model } = run(s, source, { retry: { maxAttempts, deadlineMs: 120_000 } });
        expect(["done", "failed:retries-exhausted", "failed:deadline-exceeded"]).toContain(outcome);
        if (outcome === "done") expect(Buffer.from(model.object("bkt", "obj")!.content!).equals(Buffer.from(source))).toBe(true);
      }),
      { ...params, numRuns: Math.max(1, Math.ceil(numRuns / 4)) },
    );
  });
});
