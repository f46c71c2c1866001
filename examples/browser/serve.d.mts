import type { Emulator } from "@resumable-gcs/emulator";

/** A running example: the page URL, the emulator behind it, and how to stop both. */
export interface RunningExample {
  /** The page's URL (http://127.0.0.1:PORT/). */
  readonly url: string;
  /** The emulator the page uploads to. */
  readonly emulator: Emulator;
  /** The bucket the server mints sessions in. */
  readonly bucket: string;
  /** Stops the page server (and the emulator when the example started it). */
  stop(): Promise<void>;
}

/** Starts the example page server (and an emulator unless one is given). */
export function startExample(options?: { port?: number; emulator?: Emulator; bucket?: string }): Promise<RunningExample>;
