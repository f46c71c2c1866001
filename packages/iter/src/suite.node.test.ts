/** The runtime-neutral suite in Node, against an emulator in this process. */
import { describeInNode } from "./test-support/remote-runtimes.js";
import { suiteCases } from "./test-support/suite.js";

describeInNode(suiteCases);
