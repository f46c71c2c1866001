/** The behavioural suite and the fetch transport's conformance suite in Bun, run as a child process against an emulator in this Node process. */
import { describeRemoteRuntime } from "./test-support/remote-runtimes.js";

describeRemoteRuntime("bun");
