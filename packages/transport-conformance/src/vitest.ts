/**
 * The suite as a vitest `describe` block.
 */
import { describe, inject, it } from "vitest";
import { conformanceCases, type ConformanceOptions, type MakeTransport } from "./cases/index.js";
import { CONFORMANCE_SERVER_KEY, type ConformanceServerInfo } from "./wire.js";

declare module "vitest" {
  /** What `setup` from `@resumable-gcs/transport-conformance/server` provides to the tests. */
  export interface ProvidedContext {
    [CONFORMANCE_SERVER_KEY]: ConformanceServerInfo;
  }
}

/** Options of {@link describeTransportConformance}: those of `conformanceCases` without the factory, and the server optional. */
export interface DescribeConformanceOptions extends Omit<ConformanceOptions, "makeTransport" | "server"> {
  /**
   * Where the conformance server listens (or a function giving it, called when the first case runs).
   * Default: what a vitest `globalSetup` provided with `setup` from `./server` (read with `inject`),
   * which is how browser-mode tests reach a server that runs in Node.
   */
  readonly server?: ConformanceOptions["server"];
}

/**
 * Declares one vitest `describe(name)` with one test per conformance case for the transport that
 * `makeTransport` builds.
 *
 * @param name - the describe block's title (the transport's name).
 * @param makeTransport - builds a fresh transport for each case; it must send `context.auth`'s headers when a send asks for credentials.
 * @param options - the capabilities the transport declares, and optionally the server and redirect behaviour.
 *
 * @example
 * ```ts
 * describeTransportConformance("my transport", ({ auth }) => createMyTransport({ auth }), {
 *   capabilities: { uploadProgress: true },
 * });
 * ```
 */
export function describeTransportConformance(name: string, makeTransport: MakeTransport, options: DescribeConformanceOptions): void {
  const server = options.server ?? ((): ConformanceServerInfo => {
    const provided = inject(CONFORMANCE_SERVER_KEY);
    if (provided === undefined) {
      throw new Error(
        "transport conformance: no server. Pass `server`, or add a vitest globalSetup file containing " +
          '`export { setup } from "@resumable-gcs/transport-conformance/server";`',
      );
    }
    return provided;
  });
  describe(name, () => {
    for (const testCase of conformanceCases({ ...options, makeTransport, server })) {
      it(testCase.name, () => testCase.run(), testCase.timeoutMs);
    }
  });
}
