import { performance } from "node:perf_hooks";
import type { Clock } from "@resumable-gcs/core";

/**
 * The real clock: `performance.now()` (monotonic, unaffected by wall-clock jumps) and `setTimeout`.
 * Timers are NOT unref'd: a backoff may be the only thing pending during an upload, and the process
 * must stay alive for it. The driver cancels every timer it set once the upload settles.
 */
export const nodeClock: Clock = {
  now: () => performance.now(),
  setTimer(callback, delayMs) {
    const timer = setTimeout(callback, Math.max(0, delayMs));
    return () => clearTimeout(timer);
  },
};
