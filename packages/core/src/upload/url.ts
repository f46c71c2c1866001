/**
 * A deliberately narrow URL reader for trust decisions. Core compiles without the WHATWG `URL`
 * global, and a trust rule must not depend on a parser the transport might read differently. So
 * this accepts only plain absolute `http(s)://host[:port][/path][?query][#fragment]` with an ASCII
 * host name, an IPv4 address or a bracketed IPv6 address, and refuses everything a browser or Node
 * would "fix up" (backslashes, user info, percent-escapes or odd characters in the host, spaces).
 * Whatever passes reads the same under WHATWG rules, so comparing origins here is comparing what
 * the transport will connect to.
 */

/** An accepted URL's parts; `origin` is lower-case, without a default port. */
export interface HttpUrl {
  /** `http` or `https`. */
  readonly scheme: "http" | "https";
  /** Host name, lower-case (IPv6 without brackets). */
  readonly hostname: string;
  /** `scheme://host[:port]`, default ports dropped: the unit of trust. */
  readonly origin: string;
  /** The path, starting with `/` (`/` when absent). */
  readonly path: string;
}

const pattern = /^(https?):\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?(\/[^\s\\?#]*)?(\?[^\s\\#]*)?(#\S*)?$/i;

/** Reads `text` as a plain absolute http(s) URL, or returns `undefined` when it is anything else. */
export function parseHttpUrl(text: unknown): HttpUrl | undefined {
  if (typeof text !== "string") return undefined;
  const match = pattern.exec(text);
  if (match === null) return undefined;
  const scheme = match[1]!.toLowerCase() as "http" | "https";
  const host = match[2]!.toLowerCase();
  if (host.startsWith(".") || host.endsWith("..") || host.includes("..")) return undefined;
  let port = match[3] === undefined ? undefined : Number(match[3]);
  if (port !== undefined && port > 65535) return undefined;
  if (port === (scheme === "https" ? 443 : 80)) port = undefined;
  const hostname = host.startsWith("[") ? host.slice(1, -1) : host;
  return { scheme, hostname, origin: `${scheme}://${host}${port === undefined ? "" : `:${port}`}`, path: match[4] ?? "/" };
}

/**
 * True for names that reach only this machine: `localhost` (and `*.localhost`), 127.0.0.0/8 written
 * as a dotted quad, and `::1`. Anything written differently is treated as remote (the safe side).
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost") || host === "::1" || host === "0:0:0:0:0:0:0:1") return true;
  const quad = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return quad !== null && quad.slice(1).every((part) => Number(part) <= 255);
}
