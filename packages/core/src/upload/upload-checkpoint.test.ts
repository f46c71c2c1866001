import { describe, expect, it } from "vitest";
import { sealCheckpoint } from "../checkpoint.js";
import { crc32cOf } from "@resumable-gcs/test-utils/node";
import { sealMultipartCheckpoint } from "../multipart/multipart-checkpoint.js";
import { PART, sourceOf } from "../multipart/multipart.test-utils.js";
import { isMultipartCheckpoint, parseUploadCheckpoint, resumePointOf } from "./upload-checkpoint.js";

describe("UploadCheckpoint", () => {
  const source = sourceOf(3 * PART);
  const parts = [1, 2, 3].map((n) => ({ partNumber: n, etag: `"e${n}"`, size: PART, crc32c: crc32cOf(source.subarray((n - 1) * PART, n * PART)) }));
  const multipart = sealMultipartCheckpoint({ version: 1, kind: "xml-multipart", uploadId: "u", partSize: PART, parts: [parts[0]!, parts[1]!], fingerprint: "f" });
  const session = sealCheckpoint({ sessionUri: "https://storage.googleapis.com/upload?upload_id=x", resumeOffset: 7, crc32c: 99, chunkSize: 262144, fingerprint: "f" });

  it("parses either kind and tells them apart", () => {
    const a = parseUploadCheckpoint(JSON.parse(JSON.stringify(multipart)));
    const b = parseUploadCheckpoint(JSON.parse(JSON.stringify(session)));
    expect(isMultipartCheckpoint(a)).toBe(true);
    expect(isMultipartCheckpoint(b)).toBe(false);
    expect(() => parseUploadCheckpoint({ ...multipart, partSize: PART * 2 })).toThrow(expect.objectContaining({ code: "invalid-checkpoint" }) as Error);
  });

  it("a multipart resume point is the completed prefix, its CRC32C combined from the parts", () => {
    expect(resumePointOf(multipart)).toEqual({ resumeOffset: 2 * PART, crc32c: crc32cOf(source.subarray(0, 2 * PART)) });
    // A gap: part 2 missing, so the source resumes after part 1 whatever part 3 says.
    const gap = sealMultipartCheckpoint({ ...multipart, parts: [parts[0]!, parts[2]!] });
    expect(resumePointOf(gap)).toEqual({ resumeOffset: PART, crc32c: crc32cOf(source.subarray(0, PART)) });
    const noCrc = sealMultipartCheckpoint({ ...multipart, parts: [{ partNumber: 1, etag: '"e"', size: PART }] });
    expect(resumePointOf(noCrc)).toEqual({ resumeOffset: PART });
    expect(resumePointOf(session)).toEqual({ resumeOffset: 7, crc32c: 99 });
  });
});
