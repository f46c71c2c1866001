/** The runtime-neutral suite in Bun, run as a child process against an emulator in this Node process. */
import { describeInRuntime } from "./test-support/remote-runtimes.js";
import { suiteCases } from "./test-support/suite.js";

describeInRuntime("bun", suiteCases);
