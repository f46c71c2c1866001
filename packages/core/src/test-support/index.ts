/**
 * Test helpers for anything built on core (published as `@resumable-gcs/core/test`): an in-memory
 * GCS with fault injection, a manual clock, a seeded random source and a portable CRC32C. All pure,
 * like core itself, so they run in any runtime's test suite.
 */
export { createCrc32c, crc32c, portableChecksums } from "./crc32c.js";
export { FakeClock, flushMicrotasks, runUntilSettled } from "./fake-clock.js";
export {
  GcsModel,
  ModelTransportError,
  type FaultSchedule,
  type GcsModelOptions,
  type ModelFault,
  type ModelLogEntry,
  type ModelObject,
  type ModelOutcome,
  type ModelRequestInfo,
  type ModelRequestType,
  type ModelSession,
} from "./gcs-model.js";
export { seededRandom } from "./random.js";
export {
  XmlMultipartModel,
  type XmlFaultSchedule,
  type XmlModelFault,
  type XmlModelLogEntry,
  type XmlModelObject,
  type XmlModelOutcome,
  type XmlModelRequestType,
  type XmlModelStoredPart,
  type XmlModelUpload,
  type XmlMultipartModelOptions,
} from "../multipart/xml-multipart-model.js";
