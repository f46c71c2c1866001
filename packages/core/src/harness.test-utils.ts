/**
 * Shared helpers for core's own tests (not published): option presets, response builders, native
 * checksums (Node), and a synchronous harness that drives a machine against the in-memory model.
 */
import { crc32cBase64, md5Base64, nodeChecksums as native, patternBytes } from "@resumable-gcs/test-utils/node";
import { expect } from "vitest";
import type { ChecksumProvider } from "./checksum.js";
import type { UploadAction, SendAction, UploadMachine } from "./machine.js";
import type { UploadOptions } from "./options.js";
import type { TransportResponse } from "./transport.js";
import type { GcsModel } from "./test-support/gcs-model.js";
import { seededRandom } from "./test-support/random.js";

export const KiB = 1024;
export const CHUNK = 262_144;

/** A session URI like the ones GCS hands out. */
export const SESSION =
  "https://storage.googleapis.com/upload/storage/v1/b/bkt/o?uploadType=resumable&name=obj&upload_id=ADPycdvR7x9ZqLongSecretToken42";

/** Native CRC32C and node:crypto MD5 (the workspace's shared helpers). */
export const nodeChecksums: ChecksumProvider = native;

/** CRC32C of bytes, base64 big-endian, as GCS writes it. */
export const crcB64: (bytes: Uint8Array, initial?: number) => string = crc32cBase64;

/** MD5 of bytes, base64. */
export const md5B64: (bytes: Uint8Array) => string = md5Base64;

/** Deterministic pseudo-random bytes (the workspace's one xorshift32 generator). */
export const bytesOf: (length: number, seed?: number) => Uint8Array = patternBytes;

/** Options for a JSON API upload of bkt/obj with small chunks and deterministic, jitter-free retries. */
export function options(overrides: Partial<UploadOptions> = {}): UploadOptions {
  return {
    target: { kind: "json", bucket: "bkt", name: "obj" },
    random: seededRandom(7),
    chunkSize: CHUNK,
    checksums: nodeChecksums,
    retry: { jitter: "none" },
    ...overrides,
  };
}

export function r308(persisted?: number): TransportResponse {
  return { status: 308, headers: persisted === undefined || persisted === 0 ? {} : { range: `bytes=0-${persisted - 1}` }, body: "" };
}

export function rStatus(status: number, message?: string, headers: Record<string, string> = {}): TransportResponse {
  return { status, headers, body: message === undefined ? "" : JSON.stringify({ error: { code: status, message } }) };
}

export function rStart(location = SESSION): TransportResponse {
  return { status: 200, headers: { location }, body: "" };
}

export function rObject(content: Uint8Array, extra: Record<string, unknown> = {}): TransportResponse {
  return {
    status: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "obj", bucket: "bkt", size: String(content.length), generation: "17", crc32c: crcB64(content), md5Hash: md5B64(content), ...extra }),
  };
}

/** Polls and expects a send; returns it. */
export function expectSend(machine: UploadMachine, now = 0): SendAction {
  const action = machine.poll(now);
  if (action.type !== "send") throw new Error(`expected a send action, came ${JSON.stringify(action.type === "failed" ? action.error.message : action)}`);
  return action;
}

/** Polls and expects the action type given. */
export function expectAction<T extends UploadAction["type"]>(machine: UploadMachine, type: T, now = 0): Extract<UploadAction, { type: T }> {
  const action = machine.poll(now);
  if (action.type !== type) {
    throw new Error(`expected ${type}, came ${action.type}${action.type === "failed" ? `: ${action.error.code} ${action.error.message}` : ""}`);
  }
  return action as Extract<UploadAction, { type: T }>;
}

/** Starts a JSON session: poll the start, answer 200 + Location, drain the `session` event. */
export function started(machine: UploadMachine, now = 0): void {
  const start = expectSend(machine, now);
  expect(start.purpose).toBe("start");
  machine.onResponse(start.id, rStart(), now);
  expect(machine.pollEvent()?.type).toBe("session");
}

/** Drains every pending event. */
export function drainEvents(machine: UploadMachine): ReturnType<UploadMachine["pollEvent"]>[] {
  const events = [];
  for (let e = machine.pollEvent(); e !== undefined; e = machine.pollEvent()) events.push(e);
  return events;
}

/** Concatenated body of a send action. */
export function bodyOf(action: SendAction): Uint8Array {
  return Buffer.concat(action.request.body);
}

/** One line of a harness trace. */
export interface TraceEntry {
  readonly now: number;
  readonly purpose: string;
  readonly method: string;
  readonly range: string | undefined;
  readonly hash: string | undefined;
  readonly length: number;
  readonly outcome: string | number;
}

/** Options of {@link drive}. */
export interface DriveOptions {
  /** Sizes of successive writes (cycled). Default: 64 KiB. */
  readonly writeSizes?: readonly number[];
  /** Called after every step, for invariant checks. */
  readonly onStep?: (machine: UploadMachine) => void;
  readonly maxSteps?: number;
  /** Where in `source` writing starts (a restore's resumeOffset). Default: machine.resumeOffset. */
  readonly from?: number;
}

/** The outcome of {@link drive}. */
export interface DriveResult {
  readonly action: UploadAction;
  readonly trace: TraceEntry[];
  readonly now: number;
  readonly maxBuffered: number;
  readonly maxWrite: number;
}

/**
 * Drives `machine` against `model` synchronously, the way an adapter would: write while the machine
 * wants data, end when the source is exhausted, answer each send from the model; a stalled request
 * costs its idle timeout and is reported as a timeout.
 */
export function drive(machine: UploadMachine, model: GcsModel, source: Uint8Array, opts: DriveOptions = {}): DriveResult {
  const sizes = opts.writeSizes ?? [64 * KiB];
  let offset = opts.from ?? machine.resumeOffset;
  let w = 0;
  let now = 0;
  let ended = false;
  let maxBuffered = 0;
  let maxWrite = 0;
  const trace: TraceEntry[] = [];
  const writeOne = (): void => {
    const size = Math.max(1, sizes[w++ % sizes.length]!);
    const piece = source.subarray(offset, Math.min(source.length, offset + size));
    maxWrite = Math.max(maxWrite, piece.length);
    machine.write(piece);
    offset += piece.length;
  };
  const feed = (): void => {
    while (!ended && machine.wantsData && offset < source.length) writeOne();
    if (!ended && offset >= source.length && !machine.isFinished) {
      machine.end();
      ended = true;
    }
    maxBuffered = Math.max(maxBuffered, machine.bytesBuffered);
  };
  for (let step = 0; step < (opts.maxSteps ?? 100_000); step++) {
    feed();
    const action = machine.poll(now);
    opts.onStep?.(machine);
    switch (action.type) {
      case "send": {
        const outcome = model.handle(action.request);
        const entry = {
          now,
          purpose: action.purpose,
          method: action.request.method,
          range: action.request.headers["content-range"],
          hash: action.request.headers["x-goog-hash"],
          length: action.request.bodyLength,
        };
        if (outcome.type === "response") {
          trace.push({ ...entry, outcome: outcome.response.status });
          machine.onResponse(action.id, outcome.response, now);
        } else if (outcome.type === "error") {
          trace.push({ ...entry, outcome: outcome.kind });
          machine.onError(action.id, { kind: outcome.kind }, now);
        } else {
          trace.push({ ...entry, outcome: "stall" });
          now += action.idleTimeoutMs;
          machine.onError(action.id, { kind: "timeout" }, now);
        }
        opts.onStep?.(machine);
        break;
      }
      case "wait":
        now = action.until;
        break;
      case "need-data":
        if (offset < source.length) writeOne();
        else if (!ended) {
          machine.end();
          ended = true;
        } else throw new Error("need-data after end()");
        break;
      case "in-flight":
        throw new Error("in-flight in a synchronous harness");
      default:
        return { action, trace, now, maxBuffered, maxWrite };
    }
  }
  throw new Error("drive: too many steps");
}
