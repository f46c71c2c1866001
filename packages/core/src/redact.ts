/**
 * The one redaction in the project: every transport, every error message and every echo of a
 * server's body goes through here before it can reach a log.
 *
 * What is a secret here: a session URI's `upload_id` (a bearer capability for a week), OAuth access
 * tokens (`Bearer …`, `ya29.…`, `access_token=…`), V4 signed-URL signatures and credentials, and a
 * customer-supplied encryption key. What is not: the key's SHA-256, bucket and object names, the
 * `uploadType`, status codes. The replacement is a fixed marker, so two redactions of different
 * secrets look alike and nothing of the secret (not even a prefix) survives.
 */

/** What a redacted value is replaced with. */
export const REDACTED = "<redacted>";

/** Query parameters (lower-case) whose values are capabilities. */
const secretParams: ReadonlySet<string> = new Set([
  "upload_id",
  "uploadid",
  "access_token",
  "x-goog-signature",
  "x-goog-credential",
  "signature",
  "googleaccessid",
]);

// Each rule keeps its "name" part and replaces the value. Values stop at the delimiters a URL, a
// header line, a JSON string or an XML element would end them with.
const rules: readonly (readonly [RegExp, string])[] = [
  // URL query or form: upload_id=…, uploadId=… (XML multipart), access_token=…, X-Goog-Signature=…, X-Goog-Credential=…
  [/\b(upload_?id|access_token|x-goog-signature|x-goog-credential|googleaccessid)=[^&\s"'<>#,;)]+/gi, `$1=${REDACTED}`],
  // JSON members: "upload_id": "…", "access_token": "…", "uploadId": "…"
  [/("(?:upload_?id|access_token|refresh_token|id_token|private_key)"\s*:\s*")(?:[^"\\]|\\.)*"/gi, `$1${REDACTED}"`],
  // XML multipart: <UploadId>…</UploadId>
  [/(<UploadId>)[^<]*(<\/UploadId>)/gi, `$1${REDACTED}$2`],
  // Authorization values
  [/\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, `$1${REDACTED}`],
  [/\bya29\.[A-Za-z0-9._~+/=-]+/g, `ya29.${REDACTED}`],
  // The CSEK itself, as a header line, a JSON member or a query-like pair (never its -sha256 sibling).
  [/(x-goog-encryption-key(?!-)["']?\s*[:=]\s*["']?)[A-Za-z0-9+/=_-]+/gi, `$1${REDACTED}`],
];

/**
 * Removes every secret this project knows of from free text (an error message, a server's body
 * echoed in an error, a log line): `upload_id` values (query or JSON), bearer and `ya29.` tokens,
 * `access_token`, V4 signature and credential parameters, and `x-goog-encryption-key` values.
 *
 * @example
 * redact("PUT https://storage.googleapis.com/upload?upload_id=ADPycdvR7x9Zq failed")
 * // "PUT https://storage.googleapis.com/upload?upload_id=<redacted> failed"
 */
export function redact(text: string): string {
  let out = String(text);
  for (const [pattern, replacement] of rules) out = out.replace(pattern, replacement);
  return out;
}

/**
 * A URL safe to log: scheme, host and path, plus the query with every secret parameter's value
 * replaced (`?uploadType=resumable&upload_id=<redacted>`). The fragment and any user info are
 * dropped. Works on the text alone (no URL parser), so it never fails: whatever is not a URL still
 * goes through {@link redact}.
 */
export function redactUrl(url: string): string {
  const text = String(url);
  const hash = text.indexOf("#");
  const withoutFragment = hash === -1 ? text : text.slice(0, hash);
  // user:password@ before the host is a credential too.
  const withoutUserInfo = withoutFragment.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?@]*@/i, "$1");
  const question = withoutUserInfo.indexOf("?");
  if (question === -1) return redact(withoutUserInfo);
  const query = withoutUserInfo
    .slice(question + 1)
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      if (eq === -1) return pair;
      const name = pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // A malformed escape in a name: compare it as written.
      }
      return secretParams.has(decoded.toLowerCase()) ? `${name}=${REDACTED}` : pair;
    })
    .join("&");
  return redact(`${withoutUserInfo.slice(0, question)}?${query}`);
}
