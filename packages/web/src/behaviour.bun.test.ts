/** The behavioural suite in Bun, run as a child process against an emulator in this Node process. */
import { describeRemoteRuntime } from "./test-support/remote-runtimes.js";
import { behaviourCases } from "./test-support/suite.js";

describeRemoteRuntime("bun", behaviourCases);
