/**
 * Model-based property tests: the multipart engine against the in-memory XML multipart model
 * under random fault schedules, write sizes, parallelism and answer orders, with a simulated crash
 * and a checkpoint resume. `FC_NUM_RUNS` and `FC_SEED` override the run count and seed.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32c as nativeCrc32c } from "@node-rs/crc32";
import { crcB64, nodeChecksums } from "../harness.test-utils.js";
import { seededRandom } from "../test-support/random.js";
import { MultipartMachine } from "./multipart-machine.js";
import { MiB, PART, driveMultipart, mpOptions, sourceOf, type MpTraceEntry } from "./multipart.test-utils.js";
import type { MultipartUploadOptions } from "./multipart-options.js";
import { XmlMultipartModel, type XmlModelFault } from "./xml-multipart-model.js";

// Each case moves up to ~25 MiB through CRC32C twice (client and model): fewer runs than core's
// resumable properties, still hundreds in CI.
const numRuns = process.env.FC_NUM_RUNS !== undefined ? Number(process.env.FC_NUM_RUNS) : process.env.CI ? 60 : 30;
const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : undefined;
const params = { numRuns, ...(seed === undefined ? {} : { seed }) };

const faultArb: fc.Arbitrary<XmlModelFault> = fc.oneof(
  fc.constantFrom(408, 429, 500, 502, 503, 504).map<XmlModelFault>((status) => ({ kind: "status", status })),
  fc.constant<XmlModelFault>({ kind: "reset" }),
  fc.constant<XmlModelFault>({ kind: "lose-response" }),
  fc.constant<XmlModelFault>({ kind: "stall" }),
);

interface Scenario {
  readonly size: number;
  readonly parallelism: number;
  readonly writeSizes: number[];
  readonly knownTotal: boolean;
  readonly md5: boolean;
  readonly hashOnComplete: boolean;
  readonly faults: (XmlModelFault | null)[];
  readonly orderSeed: number;
  readonly crashAtStep: number | null;
}

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  size: fc.oneof(fc.nat({ max: 3000 }), fc.nat({ max: 3 * PART + 1000 }), fc.integer({ min: 1, max: 3 }).map((n) => n * PART)),
  parallelism: fc.integer({ min: 1, max: 5 }),
  writeSizes: fc.array(fc.oneof(fc.integer({ min: 1, max: 70_000 }), fc.integer({ min: 1, max: 3 * MiB })), { minLength: 1, maxLength: 4 }),
  knownTotal: fc.boolean(),
  md5: fc.boolean(),
  hashOnComplete: fc.boolean(),
  faults: fc.array(fc.option(faultArb, { freq: 2 }), { maxLength: 25 }),
  orderSeed: fc.integer(),
  crashAtStep: fc.option(fc.nat({ max: 40 }), { freq: 3 }),
});

function optionsFor(s: Scenario, overrides: Partial<MultipartUploadOptions>): MultipartUploadOptions {
  return mpOptions({
    parallelism: s.parallelism,
    random: seededRandom(s.orderSeed),
    checksum: s.md5 ? "both" : "crc32c",
    retry: { maxAttempts: 100, deadlineMs: 1e12 },
    ...(s.knownTotal ? { totalSize: s.size } : {}),
    ...overrides,
  });
}

interface Run {
  readonly trace: MpTraceEntry[];
  readonly outcome: string;
  readonly model: XmlMultipartModel;
}

function run(s: Scenario, source: Uint8Array, overrides: Partial<MultipartUploadOptions> = {}): Run {
  const model = new XmlMultipartModel({
    crc32c: nativeCrc32c,
    faults: ({ index }) => s.faults[index] ?? undefined,
    hashOnComplete: s.hashOnComplete,
    md5: () => nodeChecksums.md5!(),
  });
  const writes = s.writeSizes.map((w) => Math.max(w, Math.ceil(s.size / 3000)));
  const maxWrite = Math.max(...writes);
  let lastPersisted = 0;
  const check = (m: MultipartMachine): void => {
    expect(m.bytesPersisted).toBeGreaterThanOrEqual(lastPersisted);
    lastPersisted = m.bytesPersisted;
    // Memory: parallelism parts awaiting their ETag, one being filled, one write beyond it.
    expect(m.bytesBuffered).toBeLessThanOrEqual((s.parallelism + 1) * PART + maxWrite);
    expect(m.outstandingIds.filter(() => true).length).toBeLessThanOrEqual(s.parallelism + 1);
  };
  const first = new MultipartMachine(optionsFor(s, overrides));
  const order = seededRandom(s.orderSeed ^ 0x5a5a);
  let result = driveMultipart(first, model, source, { writeSizes: writes, order, onStep: check, ...(s.crashAtStep === null ? {} : { stopAfterSteps: s.crashAtStep }) });
  const trace = [...result.trace];
  if (result.action === undefined) {
    // A crash: the process dies with requests outstanding; a new one restores from the JSON checkpoint.
    first.abort("simulated crash");
    const checkpoint = first.checkpoint();
    lastPersisted = 0;
    if (checkpoint === undefined) {
      result = driveMultipart(new MultipartMachine(optionsFor(s, overrides)), model, source, { writeSizes: writes, order, onStep: check });
    } else {
      const second = MultipartMachine.restore(JSON.parse(JSON.stringify(checkpoint)) as unknown, optionsFor(s, overrides));
      result = driveMultipart(second, model, source, { writeSizes: writes, order, onStep: check });
    }
    trace.push(...result.trace);
  }
  expect(model.violations).toEqual([]);
  const action = result.action!;
  const outcome = action.type === "failed" ? `failed:${action.error.code}` : action.type;
  return { trace, outcome, model };
}

describe("MultipartMachine against the XML multipart model (property)", { timeout: 300_000 }, () => {
  it("delivers exactly the source, verified, whatever the faults, writes, parallelism and answer order", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const source = sourceOf(s.size, s.orderSeed & 0xffff);
        const { outcome, model } = run(s, source);
        expect(outcome).toBe("done");
        const object = model.object("bkt", "obj")!;
        expect(Buffer.from(object.content).equals(Buffer.from(source))).toBe(true);
        expect(object.resource.crc32c).toBe(crcB64(source));
        // Nothing left billed: an upload may remain only empty (an initiate whose answer was lost).
        expect(model.activeUploads.filter((u) => u.parts.size > 0)).toEqual([]);
      }),
      params,
    );
  });

  it("gives the same trace for the same seed", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const source = sourceOf(s.size);
        const a = run(s, source);
        const b = run(s, source);
        expect(b.trace).toEqual(a.trace);
        expect(b.outcome).toBe(a.outcome);
      }),
      { ...params, numRuns: Math.max(1, Math.ceil(numRuns / 4)) },
    );
  });

  it("with a tight retry budget, ends done and correct or with a typed give-up that leaves no upload billed", () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 1, max: 3 }), (scenario, maxAttempts) => {
        const s = { ...scenario, crashAtStep: null };
        const source = sourceOf(s.size, 11);
        const { outcome, model } = run(s, source, { retry: { maxAttempts, deadlineMs: 120_000 } });
        expect(["done", "failed:retries-exhausted", "failed:deadline-exceeded"]).toContain(outcome);
        if (outcome === "done") expect(Buffer.from(model.object("bkt", "obj")!.content).equals(Buffer.from(source))).toBe(true);
        // A give-up aborts the upload; only an abort that itself kept failing may leave parts behind.
        const abortsFailed = model.log.filter((l) => l.type === "abort").every((l) => l.outcome !== 204);
        if (!abortsFailed) expect(model.activeUploads.filter((u) => u.parts.size > 0)).toEqual([]);
      }),
      { ...params, numRuns: Math.max(1, Math.ceil(numRuns / 4)) },
    );
  });
});
