#!/usr/bin/env node
/**
 * The `gcs-upload` binary: wires the real process into {@link runCli}. Ctrl-C aborts the upload
 * through a signal rather than killing the process, so the session is cancelled (or kept, with
 * `--resume`) before exit; a second Ctrl-C exits at once for the impatient.
 */
import { runCli } from "./cli.js";

const controller = new AbortController();
process.on("SIGINT", () => {
  if (controller.signal.aborted) process.exit(130);
  controller.abort(new Error("interrupted"));
});

process.exitCode = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  isTTY: process.stderr.isTTY === true,
  signal: controller.signal,
});
// stdin may still hold the event loop open (e.g. an aborted read from a pipe): the answer is known.
process.stdin.destroy();
