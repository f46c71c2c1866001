import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { version } = require("../package.json") as { version: string };

/** Identifies this library to GCS (and in its logs), with the Node version. */
export const USER_AGENT = `resumable-gcs-node/${version} (node/${process.versions.node})`;
