/**
 * `Content-Range` as a resumable-upload chunk request states it (docs/protocol.md#chunks-and-the-256-kib-rule, #status-queries-and-recovery):
 *
 *   bytes {first}-{last}/{total|*}   a chunk of bytes
 *   bytes *\/{total|*}                no bytes: a status query, or the finalizing request of an
 *                                     exact-multiple or zero-byte upload
 *   bytes {first}-*\/{total|*}        an open end: the body (often chunked, length unknown) is the rest
 *                                     of the object from `first` (@google-cloud/storage's single-request
 *                                     resumable mode); with a total, `first` may not exceed it
 *
 * Strict on purpose: anything else is refused with 400 rather than guessed at.
 */

/** A parsed `Content-Range` of an upload request. `total` is undefined for `*`. */
export type UploadRange =
  | { readonly kind: "query"; readonly total: number | undefined }
  | { readonly kind: "bytes"; readonly first: number; readonly last: number; readonly total: number | undefined }
  | { readonly kind: "open"; readonly first: number; readonly total: number | undefined };

const PATTERN = /^bytes (?:(\d+)-(\d+|\*)|\*)\/(\d+|\*)$/;

/** Parses a `Content-Range` header value; undefined when it is malformed or inconsistent. */
export function parseContentRange(value: string): UploadRange | undefined {
  const match = PATTERN.exec(value.trim());
  if (!match) return undefined;
  const [, firstText, lastText, totalText] = match;
  const total = totalText === "*" || totalText === undefined ? undefined : toSafeInteger(totalText);
  if (total === null) return undefined;
  if (firstText === undefined || lastText === undefined) return { kind: "query", total };
  const first = toSafeInteger(firstText);
  if (lastText === "*") {
    if (first === null || (total !== undefined && first > total)) return undefined;
    return { kind: "open", first, total };
  }
  const last = toSafeInteger(lastText);
  if (first === null || last === null || last < first) return undefined;
  if (total !== undefined && last >= total) return undefined;
  return { kind: "bytes", first, last, total };
}

/** Bytes a range says the request body carries; undefined for an open end (known once the body ends). */
export function rangeLength(range: UploadRange): number | undefined {
  if (range.kind === "open") return range.total === undefined ? undefined : range.total - range.first;
  return range.kind === "query" ? 0 : range.last - range.first + 1;
}

function toSafeInteger(text: string): number | null {
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}
