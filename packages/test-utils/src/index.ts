/**
 * @resumable-gcs/test-utils (private): the workspace's shared test helpers. This entry is pure and
 * runs in any runtime; the native checksum helpers (Node only) are at `./node`.
 */
export {
  DEFAULT_PATTERN_CHUNK,
  patternBytes,
  patternChunks,
  patternChunksAsync,
  stampedBlocks,
  stampedBytes,
  type PatternChunkOptions,
  type StampedBlockOptions,
} from "./pattern.js";
