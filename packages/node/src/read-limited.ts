import { TransportError } from "@resumable-gcs/core";

/**
 * Reads a response body to text, refusing to hold more than `limit` bytes: past it the stream is
 * destroyed and the exchange rejects as `truncated` with `tooLarge`, so a server streaming an
 * endless or huge body costs at most `limit` bytes of memory.
 */
export async function readLimited(stream: AsyncIterable<Uint8Array | string> & { destroy?(error?: Error): void }, limit: number, where: string): Promise<string> {
  const parts: Buffer[] = [];
  let length = 0;
  for await (const part of stream) {
    const bytes = typeof part === "string" ? Buffer.from(part) : Buffer.from(part.buffer, part.byteOffset, part.byteLength);
    length += bytes.byteLength;
    if (length > limit) {
      stream.destroy?.();
      throw new TransportError("truncated", `${where}: response body over ${limit} bytes, refused`, { tooLarge: true, code: "ERR_RESPONSE_TOO_LARGE" });
    }
    parts.push(bytes);
  }
  return Buffer.concat(parts, length).toString("utf8");
}
