import { createGzip } from "node:zlib";
import type { Compressor } from "@resumable-gcs/core";

/** A streaming gzip on node:zlib for `gzip: true`: output is collected as zlib produces it. */
export function nodeGzip(): Compressor {
  const zlib = createGzip();
  const output: Uint8Array[] = [];
  let failure: Error | undefined;
  zlib.on("data", (piece: Buffer) => output.push(piece));
  zlib.on("error", (error) => (failure = error));
  const take = (): Uint8Array[] => output.splice(0);
  return {
    push(bytes) {
      return new Promise((resolve, reject) => {
        zlib.write(bytes, (error) => {
          const problem = error ?? failure;
          if (problem) reject(problem);
          else resolve(take());
        });
      });
    },
    finish() {
      return new Promise((resolve, reject) => {
        if (failure !== undefined) {
          reject(failure);
          return;
        }
        zlib.once("error", reject);
        zlib.once("end", () => resolve(take()));
        zlib.end();
      });
    },
  };
}
