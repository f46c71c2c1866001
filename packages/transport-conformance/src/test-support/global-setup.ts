// Starts the conformance server once for the suite's own tests and provides its addresses.
export { setup } from "../server/index.js";
