import type { TransportRequest } from "@resumable-gcs/core";
import { describe, expect, it } from "vitest";
import { joinBody, streamBody, streamsBodiesWithLength } from "./http-common.js";

function put(body: Uint8Array[], bodyLength = body.reduce((n, view) => n + view.byteLength, 0)): TransportRequest {
  return { method: "PUT", url: "http://127.0.0.1:9/upload", headers: {}, body, bodyLength };
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const view of stream) out.push(view);
  return out;
}

describe("request bodies", () => {
  it("streams the request's own views, in order, without copying them", async () => {
    const backing = new Uint8Array(64).map((_, i) => i);
    const views = [backing.subarray(3, 10), new Uint8Array(0), backing.subarray(40, 64)];
    const seen = await drain(streamBody(put(views))!);
    expect(seen).toHaveLength(3);
    seen.forEach((view, i) => expect(view).toBe(views[i])); // the same objects: no byte was copied
  });

  it("pulls one view at a time (nothing queued ahead of the socket)", async () => {
    const views = [new Uint8Array(4), new Uint8Array(4), new Uint8Array(4)];
    const reader = streamBody(put(views))!.getReader();
    expect((await reader.read()).value).toBe(views[0]);
    expect((await reader.read()).value).toBe(views[1]);
    await reader.cancel();
  });

  it("errors the stream when the views disagree with bodyLength, rather than sending a short body", async () => {
    await expect(drain(streamBody(put([new Uint8Array(10)], 12))!)).rejects.toMatchObject({ name: "TransportError", kind: "network" });
  });

  it("sends an empty body as one empty buffer, never as a stream", () => {
    expect(streamBody(put([]))).toBeUndefined();
    expect(joinBody(put([]))).toEqual(new Uint8Array(0));
  });

  it("streams in Node, whose fetch keeps the Content-Length it is given", () => {
    expect(streamsBodiesWithLength()).toBe(true);
  });
});
