/**
 * The little XML the XML API multipart upload needs: parsing the `CompleteMultipartUpload` body a client
 * sends, and writing the result documents. Written here rather than taken from a library because the
 * subset is tiny and the emulator must be strict: anything outside it (a DOCTYPE, CDATA, comments,
 * processing instructions other than the declaration, mixed content, unknown entities) is refused, so a
 * client that sends odd XML finds out here rather than in production.
 */

/** A parsed element: its name (prefix kept), attributes, child elements, and text when it has no children. */
export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  /** The decoded text content (empty for an element with children: whitespace between them is dropped). */
  readonly text: string;
}

/** Thrown for input outside the accepted subset, with the offset where it went wrong. */
export class XmlSyntaxError extends Error {
  override readonly name = "XmlSyntaxError";
}

const NAME = /[A-Za-z_][\w.:-]*/y;
const ENTITIES: Readonly<Record<string, string>> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Parses one document: an optional `<?xml ...?>` declaration, then exactly one root element. */
export function parseXml(text: string): XmlElement {
  const parser = new Parser(text.startsWith("\uFEFF") ? text.slice(1) : text);
  return parser.document();
}

class Parser {
  #at = 0;

  constructor(readonly source: string) {}

  document(): XmlElement {
    if (this.source.startsWith("<?xml", this.#at)) {
      const end = this.source.indexOf("?>", this.#at);
      if (end === -1) this.fail("unterminated XML declaration");
      this.#at = end + 2;
    }
    this.skipSpace();
    const root = this.element();
    this.skipSpace();
    if (this.#at !== this.source.length) this.fail("content after the root element");
    return root;
  }

  element(): XmlElement {
    this.expect("<");
    const name = this.name();
    const attributes: Record<string, string> = {};
    for (;;) {
      const spaced = this.skipSpace();
      if (this.source.startsWith("/>", this.#at)) {
        this.#at += 2;
        return { name, attributes, children: [], text: "" };
      }
      if (this.source[this.#at] === ">") {
        this.#at += 1;
        break;
      }
      if (!spaced) this.fail("expected whitespace before an attribute");
      const attribute = this.name();
      this.skipSpace();
      this.expect("=");
      this.skipSpace();
      const quote = this.source[this.#at];
      if (quote !== '"' && quote !== "'") this.fail("expected a quoted attribute value");
      const end = this.source.indexOf(quote, this.#at + 1);
      if (end === -1) this.fail("unterminated attribute value");
      if (attribute in attributes) this.fail(`duplicate attribute ${attribute}`);
      attributes[attribute] = this.decode(this.source.slice(this.#at + 1, end), this.#at + 1);
      this.#at = end + 1;
    }
    const children: XmlElement[] = [];
    let text = "";
    for (;;) {
      const next = this.source.indexOf("<", this.#at);
      if (next === -1) this.fail(`unclosed element <${name}>`);
      text += this.decode(this.source.slice(this.#at, next), this.#at);
      this.#at = next;
      if (this.source.startsWith("</", this.#at)) {
        this.#at += 2;
        const closing = this.name();
        if (closing !== name) this.fail(`</${closing}> closes <${name}>`);
        this.skipSpace();
        this.expect(">");
        break;
      }
      if (this.source.startsWith("<!", this.#at) || this.source.startsWith("<?", this.#at)) {
        this.fail("comments, CDATA, DOCTYPE and processing instructions are not accepted");
      }
      children.push(this.element());
    }
    if (children.length > 0) {
      if (text.trim() !== "") this.fail(`<${name}> mixes text and elements`);
      text = "";
    }
    return { name, attributes, children, text };
  }

  name(): string {
    NAME.lastIndex = this.#at;
    const match = NAME.exec(this.source);
    if (!match) this.fail("expected a name");
    this.#at += match[0].length;
    return match[0];
  }

  decode(raw: string, offset: number): string {
    return raw.replace(/&([^;]*);|&/g, (whole, entity: string | undefined) => {
      if (entity === undefined) this.fail("a bare & (write &amp;)", offset);
      const named = ENTITIES[entity];
      if (named !== undefined) return named;
      const numeric = /^#(?:x([0-9a-fA-F]+)|(\d+))$/.exec(entity);
      const code = numeric ? Number.parseInt(numeric[1] ?? numeric[2]!, numeric[1] ? 16 : 10) : Number.NaN;
      if (!(code > 0 && code <= 0x10ffff)) this.fail(`unknown entity ${whole}`, offset);
      return String.fromCodePoint(code);
    });
  }

  skipSpace(): boolean {
    const start = this.#at;
    while (this.#at < this.source.length && " \t\r\n".includes(this.source[this.#at]!)) this.#at++;
    return this.#at > start;
  }

  expect(literal: string): void {
    if (!this.source.startsWith(literal, this.#at)) this.fail(`expected "${literal}"`);
    this.#at += literal.length;
  }

  fail(message: string, at = this.#at): never {
    throw new XmlSyntaxError(`${message} (at offset ${at})`);
  }
}

/** Escapes text for element content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/** A value to serialise: text, a number, or nested elements (an array repeats the element name). */
export type XmlValue = string | number | boolean | XmlFields | readonly XmlFields[];

/** Child elements by name, in insertion order. Undefined fields are left out. */
export interface XmlFields {
  readonly [name: string]: XmlValue | undefined;
}

/** The S3-compatible namespace GCS puts on its multipart documents. */
export const S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/";

/** Serialises `<root xmlns=...>fields</root>` with the XML declaration. */
export function xmlDocument(root: string, fields: XmlFields, namespace: string | undefined = S3_NAMESPACE): string {
  const xmlns = namespace === undefined ? "" : ` xmlns="${escapeXml(namespace)}"`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${xmlns}>${serialiseFields(fields)}</${root}>`;
}

function serialiseFields(fields: XmlFields): string {
  let out = "";
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const items = Array.isArray(value) ? (value as readonly XmlFields[]) : [value as Exclude<XmlValue, readonly XmlFields[]>];
    for (const item of items) {
      const inner = typeof item === "object" ? serialiseFields(item) : escapeXml(String(item));
      out += `<${name}>${inner}</${name}>`;
    }
  }
  return out;
}
