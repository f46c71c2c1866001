import { describe, expect, it } from "vitest";
import { crcB64 } from "../harness.test-utils.js";
import { FakeClock, runUntilSettled } from "../test-support/fake-clock.js";
import { TransportError, type Transport, type TransportRequest, type TransportResponse, type TransportSendOptions } from "../transport.js";
import { MultipartDriver } from "./multipart-driver.js";
import { MultipartMachine } from "./multipart-machine.js";
import { MiB, PART, mpOptions, sourceOf } from "./multipart.test-utils.js";
import { XmlMultipartModel, type XmlModelFault } from "./xml-multipart-model.js";

/** The model as an asynchronous transport that answers after a fake round trip and counts concurrency. */
function modelTransport(model: XmlMultipartModel, clock: FakeClock): Transport & { maxInFlight: number; aborted: number } {
  let inFlight = 0;
  const t = {
    specificationVersion: 2 as const,
    capabilities: { uploadProgress: false },
    maxInFlight: 0,
    aborted: 0,
    send(request: TransportRequest, options: TransportSendOptions): Promise<TransportResponse> {
      inFlight++;
      t.maxInFlight = Math.max(t.maxInFlight, inFlight);
      return new Promise<TransportResponse>((resolve, reject) => {
        const done = (): void => {
          inFlight--;
        };
        options.signal.addEventListener("abort", () => {
          t.aborted++;
          done();
          reject(new TransportError("aborted", "aborted"));
        });
        // Answer 20 ms later on the fake clock (a round trip), so parts really overlap.
        clock.setTimer(() => {
          if (options.signal.aborted) return;
          const outcome = model.handle(request);
          done();
          if (outcome.type === "response") resolve(outcome.response);
          else if (outcome.type === "error") reject(new TransportError("network", "reset"));
        }, 20);
      });
    },
  };
  return t;
}

async function upload(driver: MultipartDriver, source: Uint8Array): Promise<unknown> {
  for (let o = 0; o < source.length; o += MiB) await driver.write(source.subarray(o, Math.min(source.length, o + MiB)));
  return driver.end();
}

describe("MultipartDriver", () => {
  it("keeps several parts in flight and delivers the source, verified", async () => {
    const model = new XmlMultipartModel();
    const clock = new FakeClock();
    const transport = modelTransport(model, clock);
    const source = sourceOf(5 * PART + 77);
    const events: string[] = [];
    const driver = new MultipartDriver({ machine: new MultipartMachine(mpOptions({ parallelism: 3 })), transport, clock, onEvent: (e) => events.push(e.type) });
    const object = (await runUntilSettled(clock, upload(driver, source).then(() => driver.done))) as { crc32c: string };
    expect(object.crc32c).toBe(crcB64(source));
    expect(Buffer.from(model.object("bkt", "obj")!.content).equals(Buffer.from(source))).toBe(true);
    expect(transport.maxInFlight).toBe(3);
    expect(events.filter((e) => e === "part")).toHaveLength(6);
    expect(clock.pendingTimers).toBe(0);
  });

  it("backs a failed part off on the clock and resends it alone", async () => {
    let failed = false;
    const faults = ({ type }: { type: string }): XmlModelFault | undefined => {
      if (type !== "part" || failed) return undefined;
      failed = true;
      return { kind: "status", status: 503 };
    };
    const model = new XmlMultipartModel({ faults });
    const clock = new FakeClock();
    const retries: number[] = [];
    const driver = new MultipartDriver({
      machine: new MultipartMachine(mpOptions()),
      transport: modelTransport(model, clock),
      clock,
      onEvent: (e) => {
        if (e.type === "retry") retries.push(e.delayMs);
      },
    });
    const source = sourceOf(2 * PART);
    await runUntilSettled(clock, upload(driver, source));
    expect(retries).toEqual([1000]);
    expect(model.log.filter((l) => l.type === "part")).toHaveLength(3);
  });

  it("cancel aborts the parts in flight and the multipart upload", async () => {
    const model = new XmlMultipartModel();
    const clock = new FakeClock();
    const transport = modelTransport(model, clock);
    const driver = new MultipartDriver({ machine: new MultipartMachine(mpOptions({ parallelism: 2 })), transport, clock });
    const source = sourceOf(4 * PART);
    let written = 0;
    const writing = (async () => {
      for (; written < 3 * PART; written += MiB) await driver.write(source.subarray(written, written + MiB));
    })();
    await runUntilSettled(clock, writing);
    await runUntilSettled(clock, driver.cancel());
    await expect(driver.done).rejects.toMatchObject({ code: "cancelled" });
    expect(model.activeUploads).toHaveLength(0);
    expect(clock.pendingTimers).toBe(0);
  });
});
