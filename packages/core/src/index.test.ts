import { describe, expect, it } from "vitest";
import * as core from "./index.js";
import * as testSupport from "./test-support/index.js";

describe("@resumable-gcs/core", () => {
  it("names itself", () => {
    expect(core.packageName).toBe("@resumable-gcs/core");
  });

  it("exports exactly its public runtime API", () => {
    expect(Object.keys(core).sort()).toEqual(
      [
        "AUTH_ADVICE",
        "MAX_CHUNK_SIZE",
        "MemoryCheckpointStore",
        "createUpload",
        "resolveEndpoint",
        "uploadEventNames",
        "CHECKPOINT_VERSION",
        "CHUNK_GRANULARITY",
        "DEFAULT_CHUNK_SIZE",
        "DEFAULT_ENDPOINT",
        "DEFAULT_MAX_RESPONSE_BYTES",
        "MIN_UPLOAD_THROUGHPUT",
        "REDACTED",
        "TRANSPORT_SPECIFICATION_VERSION",
        "TransportError",
        "bearerTokenSource",
        "mergeHeaders",
        "redact",
        "redactUrl",
        "UploadDriver",
        "UploadError",
        "UploadMachine",
        "UsageError",
        "ValidationError",
        "bucketNameProblem",
        "objectNameProblem",
        "packageName",
        "parseCheckpoint",
        "redactSessionUri",
        "redactUploadId",
        "uploadErrorCodes",
        "DEFAULT_PARALLELISM",
        "DEFAULT_PART_SIZE",
        "MAX_OBJECT_SIZE",
        "MAX_PARALLELISM",
        "MAX_PARTS",
        "MAX_PART_SIZE",
        "MIN_PART_SIZE",
        "MULTIPART_CHECKPOINT_VERSION",
        "MAX_SINGLE_REQUEST_SIZE",
        "SingleRequestUpload",
        "SingleRequestDriver",
        "assertMultipartApplicable",
        "singleRequestApplies",
        "wantsMultipart",
        "MultipartDriver",
        "MultipartMachine",
        "PARTS_PER_BAND",
        "combineCrc32c",
        "fixedPartSizeFor",
        "parseMultipartCheckpoint",
        "partSchedule",
        "xmlAclNames",
        "isMultipartCheckpoint",
        "parseUploadCheckpoint",
        "resumePointOf",
      ].sort(),
    );
    expect(Object.keys(testSupport).sort()).toEqual(
      ["FakeClock", "GcsModel", "ModelTransportError", "XmlMultipartModel", "crc32c", "createCrc32c", "flushMicrotasks", "portableChecksums", "runUntilSettled", "seededRandom"].sort(),
    );
  });
});
