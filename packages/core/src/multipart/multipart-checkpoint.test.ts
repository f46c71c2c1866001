import { describe, expect, it } from "vitest";
import { parseMultipartCheckpoint, resumeOffsetOf, sealMultipartCheckpoint } from "./multipart-checkpoint.js";
import { MIN_PART_SIZE } from "./part-schedule.js";

const base = {
  version: 1 as const,
  kind: "xml-multipart" as const,
  uploadId: "upload-id-123456",
  partSize: MIN_PART_SIZE,
  fingerprint: "fnv1a64:0000000000000000",
};

describe("multipart checkpoint", () => {
  it("round-trips through JSON and resumes after the run of full parts from part 1", () => {
    const cp = sealMultipartCheckpoint({
      ...base,
      parts: [
        { partNumber: 1, etag: '"a"', size: MIN_PART_SIZE, crc32c: 1 },
        { partNumber: 2, etag: '"b"', size: MIN_PART_SIZE, crc32c: 2 },
        { partNumber: 4, etag: '"d"', size: MIN_PART_SIZE, crc32c: 4 },
      ],
    });
    const parsed = parseMultipartCheckpoint(JSON.parse(JSON.stringify(cp)));
    expect(resumeOffsetOf(parsed)).toEqual({ offset: 2 * MIN_PART_SIZE, nextPart: 3 });
  });

  it("refuses edits, wrong kinds and out-of-range parts as invalid-checkpoint", () => {
    const cp = sealMultipartCheckpoint({ ...base, parts: [{ partNumber: 1, etag: '"a"', size: 10 }] });
    const refuse = (value: unknown, pattern: RegExp): void => {
      expect(() => parseMultipartCheckpoint(value)).toThrow(pattern);
      try {
        parseMultipartCheckpoint(value);
      } catch (error) {
        expect((error as { code?: string }).code).toBe("invalid-checkpoint");
      }
    };
    refuse({ ...cp, uploadId: "other-upload-id" }, /integrity/);
    refuse({ ...cp, kind: "resumable" }, /kind/);
    refuse({ ...cp, parts: [{ partNumber: 1, etag: '"a"', size: MIN_PART_SIZE + 1 }] }, /scheduled size/);
    refuse({ ...cp, parts: [{ partNumber: 2, etag: "x", size: 1 }, { partNumber: 1, etag: "y", size: 1 }] }, /ascending/);
    refuse({ ...cp, partSize: 1 }, /partSize/);
    refuse(null, /object/);
  });
});

