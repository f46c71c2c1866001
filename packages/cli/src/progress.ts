/**
 * Progress reporting: a live cli-progress bar on a terminal, a sparse plain line elsewhere (CI logs
 * must not fill with carriage returns), nothing when quiet. Every line goes to stderr so stdout stays
 * clean for `--json` and pipes.
 */
import type { Writable } from "node:stream";
import { MultiBar, Presets } from "cli-progress";

/** Formats bytes with binary units, e.g. `12.5 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/** What the upload reports to the user as it goes. */
export interface ProgressReporter {
  /** Bytes persisted by GCS so far. */
  update(bytesPersisted: number): void;
  /** A line to show without breaking the bar (retries, notices). */
  log(line: string): void;
  /** Stops the bar (leaving its last state visible) or the timer. */
  stop(): void;
}

/** How a reporter is built. */
export interface ProgressOptions {
  /** Where lines go (stderr). */
  readonly stream: Writable;
  /** `tty`: a live bar; `plain`: a line every `intervalMs`; `none`: silence except `log`. */
  readonly mode: "tty" | "plain" | "none";
  /** The total when known (a file source); omitted from the bar otherwise. */
  readonly total: number | undefined;
  /** Plain mode's interval, ms. */
  readonly intervalMs?: number;
  /** Bytes already persisted before this run (resume): the rate counts only this run's bytes. */
  readonly startOffset?: number;
}

/** Builds the reporter for a mode. */
export function createProgressReporter(options: ProgressOptions): ProgressReporter {
  const started = Date.now();
  const startOffset = options.startOffset ?? 0;
  let persisted = startOffset;
  const rate = (): string => {
    const seconds = (Date.now() - started) / 1000;
    return seconds <= 0 ? "-" : `${formatBytes((persisted - startOffset) / seconds)}/s`;
  };
  const write = (line: string): void => {
    options.stream.write(`${line}\n`);
  };

  if (options.mode === "tty") {
    const known = options.total !== undefined;
    const multibar = new MultiBar(
      {
        stream: options.stream,
        // The caller decided this is a terminal (io.isTTY); do not let cli-progress second-guess it.
        noTTYOutput: true,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        fps: 8,
        format: known
          ? " {bar} {percentage}% | {persistedH} / {totalH} | {rate} | {elapsed}"
          : " {persistedH} persisted | {rate} | {elapsed}",
      },
      Presets.shades_classic,
    );
    const payload = (): Record<string, string> => ({
      persistedH: formatBytes(persisted),
      totalH: formatBytes(options.total ?? 0),
      rate: rate(),
      elapsed: formatElapsed(Date.now() - started),
    });
    // Without a known total the bar still needs one; the format above never shows it.
    const bar = multibar.create(options.total ?? 1, 0, payload());
    bar.update(Math.min(persisted, options.total ?? 1), payload());
    // Redraw every second even without progress, so rate and elapsed stay honest during a retry.
    const timer = setInterval(() => bar.update(Math.min(persisted, options.total ?? 1), payload()), 1000);
    timer.unref();
    return {
      update(bytes) {
        persisted = bytes;
        bar.update(Math.min(bytes, options.total ?? 1), payload());
      },
      log(line) {
        multibar.log(`${line}\n`);
      },
      stop() {
        clearInterval(timer);
        bar.update(Math.min(persisted, options.total ?? 1), payload());
        multibar.stop();
      },
    };
  }

  if (options.mode === "plain") {
    const line = (): string =>
      `gcs-upload: ${formatBytes(persisted)}${options.total === undefined ? "" : ` / ${formatBytes(options.total)}`} persisted, ${rate()}, ${formatElapsed(Date.now() - started)}`;
    const timer = setInterval(() => write(line()), options.intervalMs ?? 5000);
    timer.unref();
    return {
      update(bytes) {
        persisted = bytes;
      },
      log: write,
      stop() {
        clearInterval(timer);
      },
    };
  }

  return {
    update(bytes) {
      persisted = bytes;
    },
    log: write,
    stop() {},
  };
}
