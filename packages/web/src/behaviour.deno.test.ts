/** The behavioural suite and the fetch transport's conformance suite in Deno, run as a child process against an emulator in this Node process. */
import { describeRemoteRuntime } from "./test-support/remote-runtimes.js";

describeRemoteRuntime("deno");
