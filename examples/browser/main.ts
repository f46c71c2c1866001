/**
 * The example page: mint a session on the page's server, pipe a file or a generated stream into
 * createUploadStream, show progress, and show the CRC32C the page computed next to the object's.
 */
import { createUploadStream, loadChecksums } from "@resumable-gcs/web";

const element = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const bar = element<HTMLProgressElement>("bar");
const status = element<HTMLParagraphElement>("status");
const cancel = element<HTMLButtonElement>("cancel");

function show(id: string, text: string): void {
  element(id).textContent = text;
}

function setState(state: "idle" | "uploading" | "done" | "failed", message: string): void {
  document.body.dataset["state"] = state;
  status.textContent = message;
}

/** Deterministic bytes (xorshift32), so a test can recompute what the page sent. */
function generatedStream(size: number, seed = 1): ReadableStream<Uint8Array> {
  let x = seed;
  let sent = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent >= size) {
          controller.close();
          return;
        }
        const length = Math.min(256 * 1024, size - sent);
        const words = new Uint32Array(Math.ceil(length / 4));
        for (let i = 0; i < words.length; i += 1) {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          words[i] = x >>> 0;
        }
        sent += length;
        controller.enqueue(new Uint8Array(words.buffer, 0, length));
      },
    },
    { highWaterMark: 0 },
  );
}

async function upload(source: ReadableStream<Uint8Array>, name: string, size: number): Promise<void> {
  setState("uploading", `Uploading ${name}…`);
  bar.max = Math.max(size, 1);
  bar.value = 0;
  show("object", name);
  show("bytes", `0 / ${size}`);
  const minted = await fetch("/api/session", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name, size }) });
  if (!minted.ok) throw new Error(`the server did not mint a session: ${minted.status}`);
  // `apiEndpoint` is only there because the example's "GCS" is the emulator: a session URI minted
  // on storage.googleapis.com needs nothing but itself.
  const { sessionUri, apiEndpoint } = (await minted.json()) as { sessionUri: string; apiEndpoint?: string };

  const stream = createUploadStream({ sessionUri, totalSize: size, ...(apiEndpoint === undefined ? {} : { apiEndpoint }) });
  stream.on("progress", ({ bytesSent, bytesPersisted }) => {
    bar.value = bytesSent;
    show("bytes", `${bytesPersisted} persisted, ${bytesSent} sent / ${size}`);
  });
  const checksums = await loadChecksums();
  const crc = checksums.crc32c();
  const counting = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      crc.update(chunk);
      controller.enqueue(chunk);
    },
  });
  const controller = new AbortController();
  cancel.disabled = false;
  cancel.onclick = () => controller.abort(new Error("cancelled by the user"));
  try {
    await source.pipeThrough(counting).pipeTo(stream, { signal: controller.signal });
    const object = await stream.done;
    bar.value = bar.max;
    show("bytes", `${object.size ?? "?"} bytes`);
    show("local-crc", crc.value().toString(16).padStart(8, "0"));
    show("object-crc", object.crc32c === undefined ? "–" : [...atob(object.crc32c)].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join(""));
    setState("done", `Done: ${name} is in the bucket, size and CRC32C verified.`);
  } finally {
    cancel.disabled = true;
  }
}

function run(task: Promise<void>): void {
  task.catch((error: unknown) => setState("failed", `Failed: ${error instanceof Error ? error.message : String(error)}`));
}

element<HTMLInputElement>("file").addEventListener("change", (event) => {
  const file = (event.target as HTMLInputElement).files?.[0];
  if (file !== undefined) run(upload(file.stream(), `uploads/${file.name}`, file.size));
});
element<HTMLButtonElement>("generate").addEventListener("click", () => {
  const size = Math.round(Number(element<HTMLInputElement>("mib").value) * 1024 * 1024);
  run(upload(generatedStream(size), `generated/${size}-bytes.bin`, size));
});
