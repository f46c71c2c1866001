/**
 * Helpers for test files: start one emulator per file with the test runner's own hooks, and turn a fault
 * list into the headers an upload client sends. Nothing here knows a test runner: the hooks are passed
 * in, so vitest, jest, mocha and `node:test` (`before`/`after`) all fit.
 */
import { startEmulator, type Emulator, type EmulatorOptions } from "./emulator.js";
import { KIND_METHOD } from "./faults.js";

/** The two suite hooks {@link useEmulator} needs, e.g. `{ beforeAll, afterAll }` from vitest. */
export interface SuiteHooks {
  /** Runs once before the file's tests (vitest/jest `beforeAll`, mocha/`node:test` `before`). */
  readonly beforeAll: (fn: () => Promise<void>) => unknown;
  /** Runs once after them (vitest/jest `afterAll`, mocha/`node:test` `after`). */
  readonly afterAll: (fn: () => Promise<void>) => unknown;
}

/**
 * Starts an emulator before the tests of a file and stops it after them. Returns the handle at once:
 * it is usable inside tests (after `beforeAll` ran); touching it earlier or after `afterAll` throws,
 * naming the mistake.
 *
 * ```ts
 * import { afterAll, beforeAll } from "vitest";
 * const gcs = useEmulator({ beforeAll, afterAll }, { buckets: ["my-bucket"] });
 * ```
 */
export function useEmulator(hooks: SuiteHooks, options: EmulatorOptions = {}): Emulator {
  let running: Emulator | undefined;
  let state: "before" | "running" | "stopped" = "before";
  hooks.beforeAll(async () => {
    running = await startEmulator(options);
    state = "running";
  });
  hooks.afterAll(async () => {
    const emulator = running;
    running = undefined;
    state = "stopped";
    await emulator?.stop();
  });
  return new Proxy({} as Emulator, {
    get(_target, property) {
      if (running === undefined) {
        // `await handle` probes `then`; answer "not a promise" instead of throwing.
        if (property === "then") return undefined;
        throw new Error(
          state === "before"
            ? `useEmulator(): the emulator starts in beforeAll; read "${String(property)}" inside a test or a later hook, not at the top of the file.`
            : `useEmulator(): the emulator was stopped in afterAll; "${String(property)}" is no longer available.`,
        );
      }
      const value: unknown = Reflect.get(running, property);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(running) : value;
    },
  });
}

/**
 * The header an upload client sends so the emulator applies a registered fault list to its requests.
 * A mapped type (not an interface), so it fits `Record<string, string>` and `HeadersInit` as is.
 */
export type FaultHeaders = Readonly<Record<"x-retry-test-id", string>>;

/** Fault instructions: a list (for `storage.objects.insert`, i.e. every upload request) or lists per method. */
export type FaultInstructions = readonly string[] | Readonly<Record<string, readonly string[]>>;

/**
 * Registers `instructions` as a new retry test on `emulator` and returns the headers to send with every
 * request of the upload (an adapter's `extraHeaders`). A plain list is for `storage.objects.insert`, the
 * method of every upload request; target a request with `kind:` / `kind#N:` prefixes
 * (`["start:return-503", "chunk#2:return-reset-connection"]`). Throws for an unknown instruction,
 * listing the valid forms. Read what was consumed with `emulator.getRetryTest(headers["x-retry-test-id"])`.
 */
export function faultHeaders(emulator: Pick<Emulator, "registerFaults">, instructions: FaultInstructions): FaultHeaders {
  const perMethod = isList(instructions) ? { [KIND_METHOD]: instructions } : instructions;
  return { "x-retry-test-id": emulator.registerFaults(perMethod) };
}

function isList(instructions: FaultInstructions): instructions is readonly string[] {
  return Array.isArray(instructions);
}
