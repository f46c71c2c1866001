import type { Checkpoint, MultipartCheckpoint, ObjectResource, UploadCheckpoint, UploadError } from "@resumable-gcs/core";
import { describe, expectTypeOf, it } from "vitest";
import { createUploadStream } from "./upload-stream.js";

const stream = createUploadStream({ bucket: "b", name: "o" });

describe("UploadStream types under --strict", () => {
  it("types every upload event's payload", () => {
    stream.on("progress", (p) => {
      expectTypeOf(p.bytesPersisted).toEqualTypeOf<number>();
      expectTypeOf(p.totalBytes).toEqualTypeOf<number | undefined>();
    });
    stream.once("session", ({ checkpoint }) => expectTypeOf(checkpoint).toEqualTypeOf<UploadCheckpoint>());
    stream.on("retry", (r) => {
      expectTypeOf(r.error).toEqualTypeOf<UploadError>();
      expectTypeOf(r.delayMs).toEqualTypeOf<number>();
    });
    stream.on("checkpoint-saved", ({ checkpoint }) => {
      // The union narrows on `kind`: a session checkpoint has none, a multipart one says "xml-multipart".
      if (checkpoint.kind === "xml-multipart") {
        expectTypeOf(checkpoint).toEqualTypeOf<MultipartCheckpoint>();
        expectTypeOf(checkpoint.uploadId).toEqualTypeOf<string>();
      } else {
        expectTypeOf(checkpoint).toEqualTypeOf<Checkpoint>();
        expectTypeOf(checkpoint.sessionUri).toEqualTypeOf<string>();
      }
    });
    stream.on("retry", (r) => expectTypeOf(r.partNumber).toEqualTypeOf<number | undefined>());
    stream.on("resumed", (r) => expectTypeOf(r.md5Skipped).toEqualTypeOf<boolean>());
    const listener = (p: { bytesSent: number }) => expectTypeOf(p.bytesSent).toEqualTypeOf<number>();
    stream.off("progress", listener);
  });

  it("keeps the Writable's own events typed, and any other name open", () => {
    stream.on("error", (error) => expectTypeOf(error).toEqualTypeOf<Error>());
    stream.on("finish", () => undefined);
    stream.on("custom-thing", (name: string, count: number) => {
      expectTypeOf(name).toEqualTypeOf<string>();
      expectTypeOf(count).toEqualTypeOf<number>();
    });
  });

  it("keeps Node's write and end signatures, callbacks typed", () => {
    stream.write(Buffer.from("x"), (error) => expectTypeOf(error).toEqualTypeOf<Error | null | undefined>());
    stream.write("text", "utf8", (error) => expectTypeOf(error).toEqualTypeOf<Error | null | undefined>());
    expectTypeOf(stream.write("text")).toEqualTypeOf<boolean>();
    expectTypeOf(stream.end("last", "utf8", () => undefined)).toEqualTypeOf<typeof stream>();
    expectTypeOf(stream.end()).toEqualTypeOf<typeof stream>();
  });

  it("types the checkpoint, the object and the progress", () => {
    expectTypeOf(stream.checkpoint()).toEqualTypeOf<UploadCheckpoint | undefined>();
    expectTypeOf(stream.done).toEqualTypeOf<Promise<ObjectResource>>();
    expectTypeOf(stream.progress.bytesSent).toEqualTypeOf<number>();
  });

  it("refuses what does not exist", () => {
    // @ts-expect-error: not an option of the flat set
    createUploadStream({ bucket: "b", name: "o", upload: { chunkSize: 1 } });
    // @ts-expect-error: onAbort is "cancel" | "keep"
    createUploadStream({ bucket: "b", name: "o", onAbort: "explode" });
    // @ts-expect-error: the payload has no such field
    stream.on("progress", (p) => void p.percent);
  });
});
