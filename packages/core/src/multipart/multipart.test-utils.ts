/**
 * Helpers for the multipart engine's tests (not published): options, a generated source, and a
 * synchronous harness that drives a {@link MultipartMachine} against the {@link XmlMultipartModel}
 * with several requests outstanding, answering them in an order drawn from a seed.
 */
import type { RandomSource } from "../clock.js";
import { bytesOf, nodeChecksums } from "../harness.test-utils.js";
import { seededRandom } from "../test-support/random.js";
import type { TransportRequest, TransportResponse } from "../transport.js";
import { MultipartMachine, type MultipartAction, type MultipartEvent, type MultipartSendAction } from "./multipart-machine.js";
import type { MultipartUploadOptions } from "./multipart-options.js";
import type { XmlMultipartModel } from "./xml-multipart-model.js";

export const MiB = 1024 * 1024;
export const PART = 5 * MiB;

/** Options for bkt/obj with 5 MiB parts, native checksums and jitter-free retries. */
export function mpOptions(overrides: Partial<MultipartUploadOptions> = {}): MultipartUploadOptions {
  return {
    bucket: "bkt",
    name: "obj",
    random: seededRandom(7),
    partSize: PART,
    parallelism: 3,
    checksums: nodeChecksums,
    retry: { jitter: "none" },
    ...overrides,
  };
}

/** One shared pseudo-random source buffer (generated once: property tests take slices of it). */
let pool: Uint8Array | undefined;
export function sourceOf(length: number, offset = 0): Uint8Array {
  const need = length + offset;
  if (pool === undefined || pool.length < need) {
    const size = Math.max(need, 48 * MiB);
    pool = bytesOf(size, 0x2545f491);
  }
  return pool.subarray(offset, offset + length);
}

/** One line of a harness trace. */
export interface MpTraceEntry {
  readonly now: number;
  readonly purpose: string;
  readonly partNumber: number | undefined;
  readonly length: number;
  readonly outcome: number | string;
}

/** Options of {@link driveMultipart}. */
export interface MpDriveOptions {
  /** Sizes of successive writes (cycled). Default 1 MiB. */
  readonly writeSizes?: readonly number[];
  /** Picks which outstanding request the model answers next. Default: seeded from 1. */
  readonly order?: RandomSource;
  /** Called after every input, for invariant checks. */
  readonly onStep?: (machine: MultipartMachine) => void;
  /** Called with each send before the model answers it; returning a response overrides the model. */
  readonly intercept?: (send: MultipartSendAction) => TransportResponse | "network" | undefined;
  /** Stop (returning) after this many steps, leaving requests outstanding (a crash). */
  readonly stopAfterSteps?: number;
  readonly maxSteps?: number;
}

/** The outcome of {@link driveMultipart}. */
export interface MpDriveResult {
  readonly action: MultipartAction | undefined;
  readonly trace: MpTraceEntry[];
  readonly events: MultipartEvent[];
  readonly maxBuffered: number;
  readonly maxWrite: number;
  readonly maxOutstanding: number;
}

/**
 * Drives `machine` against `model` the way a driver would: write while it wants data, end when the
 * source is exhausted, collect every send `poll` hands out, then answer one outstanding request
 * (chosen by `order`) at a time; a stalled request costs its idle timeout and reports a timeout.
 */
export function driveMultipart(machine: MultipartMachine, model: XmlMultipartModel, source: Uint8Array, opts: MpDriveOptions = {}): MpDriveResult {
  const sizes = opts.writeSizes ?? [MiB];
  const order = opts.order ?? seededRandom(1);
  let offset = machine.resumeOffset;
  let w = 0;
  let now = 0;
  let ended = false;
  let maxBuffered = 0;
  let maxWrite = 0;
  let maxOutstanding = 0;
  const trace: MpTraceEntry[] = [];
  const events: MultipartEvent[] = [];
  const outstanding: MultipartSendAction[] = [];
  const drain = (): void => {
    for (let e = machine.pollEvent(); e !== undefined; e = machine.pollEvent()) events.push(e);
  };
  const feed = (): void => {
    while (!ended && machine.wantsData && offset < source.length) {
      const piece = source.subarray(offset, Math.min(source.length, offset + Math.max(1, sizes[w++ % sizes.length]!)));
      maxWrite = Math.max(maxWrite, piece.length);
      machine.write(piece);
      offset += piece.length;
    }
    if (!ended && offset >= source.length && machine.wantsData) {
      machine.end();
      ended = true;
    }
    maxBuffered = Math.max(maxBuffered, machine.bytesBuffered);
  };
  const answer = (send: MultipartSendAction): void => {
    const entry = { now, purpose: send.purpose, partNumber: send.partNumber, length: send.request.bodyLength };
    const override = opts.intercept?.(send);
    if (override === "network") {
      trace.push({ ...entry, outcome: "network" });
      machine.onError(send.id, { kind: "network" }, now);
      return;
    }
    if (override !== undefined) {
      trace.push({ ...entry, outcome: override.status });
      machine.onResponse(send.id, override, now);
      return;
    }
    const outcome = model.handle(send.request);
    if (outcome.type === "response") {
      trace.push({ ...entry, outcome: outcome.response.status });
      machine.onResponse(send.id, outcome.response, now);
    } else if (outcome.type === "error") {
      trace.push({ ...entry, outcome: outcome.kind });
      machine.onError(send.id, { kind: outcome.kind }, now);
    } else {
      trace.push({ ...entry, outcome: "stall" });
      now += send.idleTimeoutMs;
      machine.onError(send.id, { kind: "timeout" }, now);
    }
  };
  for (let step = 0; step < (opts.maxSteps ?? 200_000); step++) {
    if (opts.stopAfterSteps !== undefined && step >= opts.stopAfterSteps) return { action: undefined, trace, events, maxBuffered, maxWrite, maxOutstanding };
    feed();
    let action = machine.poll(now);
    while (action.type === "send") {
      outstanding.push(action);
      action = machine.poll(now);
    }
    drain();
    maxOutstanding = Math.max(maxOutstanding, outstanding.length);
    opts.onStep?.(machine);
    if (action.type === "done" || action.type === "failed" || action.type === "cancelled") {
      // Late outcomes of abandoned requests are accepted and ignored.
      for (const send of outstanding.splice(0)) answer(send);
      drain();
      return { action, trace, events, maxBuffered, maxWrite, maxOutstanding };
    }
    const live = new Set(machine.outstandingIds);
    // A driver aborts what the machine abandoned; its outcome still gets reported.
    const pick = outstanding.length === 0 ? -1 : Math.floor(order() * outstanding.length);
    if (pick >= 0) {
      const [send] = outstanding.splice(pick, 1);
      if (live.has(send!.id)) answer(send!);
      else machine.onError(send!.id, { kind: "aborted" }, now);
      drain();
      opts.onStep?.(machine);
      continue;
    }
    if (action.type === "wait") {
      now = action.until;
      continue;
    }
    if (action.type === "need-data" && !ended) {
      if (offset < source.length) {
        const piece = source.subarray(offset, Math.min(source.length, offset + Math.max(1, sizes[w++ % sizes.length]!)));
        machine.write(piece);
        offset += piece.length;
      } else {
        machine.end();
        ended = true;
      }
      continue;
    }
    throw new Error(`driveMultipart: stuck with ${action.type}, nothing outstanding (phase ${machine.phase})`);
  }
  throw new Error("driveMultipart: too many steps");
}

/** Polls until a non-send; returns the sends handed out and the final action. */
export function pollAll(machine: MultipartMachine, now = 0): { sends: MultipartSendAction[]; action: MultipartAction } {
  const sends: MultipartSendAction[] = [];
  let action = machine.poll(now);
  while (action.type === "send") {
    sends.push(action);
    action = machine.poll(now);
  }
  return { sends, action };
}

/** Concatenated body of a request. */
export function bodyOfRequest(request: TransportRequest): Uint8Array {
  return Buffer.concat(request.body);
}

/** Creates a machine. */
export function machineFor(overrides: Partial<MultipartUploadOptions> = {}): MultipartMachine {
  return new MultipartMachine(mpOptions(overrides));
}
