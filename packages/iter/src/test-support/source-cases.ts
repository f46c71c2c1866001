/**
 * Source-side cases: how each runtime's own streams and generators behave under the reader and the
 * pump (ReadableStream cancel semantics and generator `return()` differ subtly between engines).
 */
import { UploadError, ValidationError } from "@resumable-gcs/core";
import { pump } from "../pump.js";
import { openSource } from "../source.js";
import { check, checkEqual, rejection, type SuiteCase } from "./case.js";
import { io } from "./data.js";
import { FakeSink } from "./fake-sink.js";

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

export const sourceCases: readonly SuiteCase[] = [
  {
    name: "source: a ReadableStream with highWaterMark 0 is pulled only as the upload accepts chunks",
    async run() {
      let pulls = 0;
      const stream = new ReadableStream<Uint8Array>(
        {
          pull(controller) {
            pulls += 1;
            if (pulls > 50) controller.close();
            else controller.enqueue(new Uint8Array(8).fill(pulls));
          },
        },
        { highWaterMark: 0 },
      );
      const sink = new FakeSink({ capacity: 0 });
      const running = pump(openSource(stream), sink, { readAhead: 0 });
      for (let round = 0; round < 5; round++) await tick();
      checkEqual([sink.written.length, pulls], [1, 1], "chunks written and pulls while the first write waits");
      sink.autoDrain = true;
      sink.drain();
      const object = await running;
      checkEqual(object.size, "400", "size");
    },
  },
  {
    name: "source: a ReadableStream is cancelled with the upload's error when the upload fails",
    async run() {
      let cancelled: unknown;
      const stream = new ReadableStream<Uint8Array>({
        pull: (controller) => controller.enqueue(new Uint8Array(4)),
        cancel: (reason) => {
          cancelled = reason;
        },
      });
      const sink = new FakeSink({ capacity: 0 });
      const running = pump(openSource(stream), sink, { readAhead: 0 });
      await tick();
      const failure = new UploadError("session-expired", "gone");
      sink.fail(failure);
      check((await rejection(running, "pump")) === failure, "the pump rejects with the upload's error");
      check(cancelled === failure, `the stream was cancelled with that error, came ${String(cancelled)}`);
    },
  },
  {
    name: "source: an async generator's finally has run when a failed upload rejects",
    async run() {
      let finallyRan = false;
      async function* source(): AsyncGenerator<Uint8Array> {
        try {
          for (;;) yield await io(new Uint8Array(16));
        } finally {
          finallyRan = true;
        }
      }
      const sink = new FakeSink({ capacity: 0 });
      const running = pump(openSource(source()), sink, { readAhead: 0 });
      await tick();
      sink.fail(new UploadError("unauthorized", "401"));
      await rejection(running, "pump");
      check(finallyRan, "the generator's finally ran");
    },
  },
  {
    name: "source: a ReadableStream that errors stops the upload with the stream's error as cause",
    async run() {
      const boom = new Error("producer broke");
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          sent += 1;
          if (sent === 3) controller.error(boom);
          else controller.enqueue(new Uint8Array(10));
        },
      });
      const sink = new FakeSink({ autoDrain: true });
      const error = (await rejection(pump(openSource(stream), sink, { readAhead: 0 }), "pump")) as UploadError;
      checkEqual([error.code, error.cause === boom, sink.aborts.length], ["cancelled", true, 1], "code, cause, aborts");
      check(error.message.startsWith("the source failed after 20 bytes (Error: producer broke)"), error.message);
    },
  },
  {
    name: "source: string chunks from a ReadableStream are refused naming what came",
    async run() {
      const stream = new ReadableStream<unknown>({
        start(controller) {
          controller.enqueue("text");
          controller.close();
        },
      });
      const sink = new FakeSink({ autoDrain: true });
      const error = (await rejection(pump(openSource(stream), sink, { readAhead: 0 }), "pump")) as ValidationError;
      check(error instanceof ValidationError, "a ValidationError");
      checkEqual([error.code, error.field], ["invalid-argument", "source"], "code and field");
      check(error.message.includes("chunk #1 (at byte 0) is a string (4 characters)"), error.message);
    },
  },
];
