/**
 * The little XML the multipart API speaks: the bodies GCS answers (InitiateMultipartUploadResult,
 * ListPartsResult, CompleteMultipartUploadResult, Error) and the one body the client sends
 * (CompleteMultipartUpload).
 *
 * These documents are flat and machine-written, so a full XML parser (and a dependency in a
 * zero-dependency core) would buy nothing: elements are found by name, text is unescaped, and
 * anything that does not look like the expected document is reported as such, never guessed at.
 */

const entities: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Unescapes XML character data: the five named entities and numeric references. */
export function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-z]{2,4});/g, (whole, ref: string) => {
    if (ref.startsWith("#x")) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith("#")) return String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
    return entities[ref] ?? whole;
  });
}

/** Escapes text for XML character data. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos" }[c]!};`);
}

/** The unescaped text of every `<name>…</name>` in `xml`, in document order (namespace prefixes allowed). */
export function elementTexts(xml: string, name: string): string[] {
  const pattern = new RegExp(`<(?:[A-Za-z_][\\w.-]*:)?${name}(?:\\s[^>]*)?>([\\s\\S]*?)</(?:[A-Za-z_][\\w.-]*:)?${name}\\s*>`, "g");
  const out: string[] = [];
  for (const match of xml.matchAll(pattern)) out.push(match[1]!);
  return out;
}

/** The unescaped, trimmed text of the first `<name>` element, or `undefined`. */
export function elementText(xml: string, name: string): string | undefined {
  const first = elementTexts(xml, name)[0];
  return first === undefined ? undefined : unescapeXml(first).trim();
}

/** One part as ListPartsResult describes it. */
export interface ListedPart {
  readonly partNumber: number;
  readonly etag: string;
  readonly size: number;
}

/** A page of ListPartsResult. */
export interface ListPartsPage {
  readonly parts: readonly ListedPart[];
  /** The marker for the next page, when `IsTruncated` is true. */
  readonly nextMarker: number | undefined;
}

function decimal(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,16}$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Parses a ListPartsResult page; a string says what was wrong instead. */
export function parseListParts(xml: string): ListPartsPage | string {
  if (!/<(?:\w+:)?ListPartsResult[\s>]/.test(xml)) return "expected a ListPartsResult XML document";
  const parts: ListedPart[] = [];
  for (const body of elementTexts(xml, "Part")) {
    const partNumber = decimal(elementText(body, "PartNumber"));
    const etag = elementText(body, "ETag");
    const size = decimal(elementText(body, "Size"));
    if (partNumber === undefined || etag === undefined || size === undefined) {
      return "expected every Part of the ListPartsResult to have a PartNumber, an ETag and a Size";
    }
    parts.push({ partNumber, etag, size });
  }
  const truncated = elementText(xml, "IsTruncated") === "true";
  if (!truncated) return { parts, nextMarker: undefined };
  const nextMarker = decimal(elementText(xml, "NextPartNumberMarker"));
  if (nextMarker === undefined) return "expected a NextPartNumberMarker in a truncated ListPartsResult";
  return { parts, nextMarker };
}

/** The CompleteMultipartUpload request body for `parts`, in part-number order. */
export function completeBody(parts: readonly { readonly partNumber: number; readonly etag: string }[]): string {
  const items = parts.map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${escapeXml(p.etag)}</ETag></Part>`);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload>${items.join("")}</CompleteMultipartUpload>`;
}

/** The `Code` and `Message` of an XML `<Error>` body (GCS's XML API error format), when there is one. */
export function xmlError(body: string): { readonly code?: string; readonly message?: string } {
  if (!/<(?:\w+:)?Error[\s>]/.test(body)) return {};
  const code = elementText(body, "Code");
  const message = elementText(body, "Message") ?? elementText(body, "Details");
  return { ...(code === undefined ? {} : { code }), ...(message === undefined ? {} : { message }) };
}
