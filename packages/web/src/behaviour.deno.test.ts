/** The behavioural suite in Deno, run as a child process against an emulator in this Node process. */
import { describeRemoteRuntime } from "./test-support/remote-runtimes.js";
import { behaviourCases } from "./test-support/suite.js";

describeRemoteRuntime("deno", behaviourCases);
