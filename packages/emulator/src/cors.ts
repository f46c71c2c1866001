/**
 * CORS, as GCS applies it. Three policies:
 *
 * - `any` (the emulator's default for buckets without a CORS configuration): every `Origin` is allowed,
 *   with the upload headers exposed. Convenient for tests, more permissive than GCS.
 * - `rules`: a bucket's `cors` configuration, GCS's shape (`[{ origin, method, responseHeader,
 *   maxAgeSeconds }]`). The first rule whose `origin` lists the request's Origin (or `*`) and whose
 *   `method` lists the request's method (for a preflight, `Access-Control-Request-Method`) applies:
 *   the Origin is allowed, `responseHeader` is what is exposed and what a preflight allows to be sent.
 *   No matching rule: no CORS headers at all, and the browser fails the request.
 * - `off` (`cors: false`): no CORS headers anywhere, like a GCS bucket without a CORS configuration.
 */

/** One entry of a bucket's `cors` configuration (GCS's bucket resource field). */
export interface CorsRule {
  /** Origins allowed (`https://app.example`), or `*` for any. */
  readonly origin?: readonly string[];
  /** Methods allowed (`PUT`, `POST`...), or `*` for any. */
  readonly method?: readonly string[];
  /** Headers exposed to the page and allowed in requests (`Content-Range`, `Range`, `x-goog-hash`...). */
  readonly responseHeader?: readonly string[];
  /** How long a browser may cache a preflight answer. */
  readonly maxAgeSeconds?: number;
}

/** The policy a request is answered under. */
export type CorsPolicy = { readonly mode: "any" } | { readonly mode: "off" } | { readonly mode: "rules"; readonly rules: readonly CorsRule[] };

/** Headers a browser may read under the `any` policy (GCS exposes these for uploads). */
export const EXPOSED_HEADERS = [
  "Range",
  "Location",
  "X-GUploader-UploadID",
  "Content-Length",
  "Content-Type",
  "Content-Range",
  "Date",
  "ETag",
  "X-Goog-Hash",
  "X-Goog-Generation",
  "X-Goog-Metageneration",
  "X-Goog-Stored-Content-Length",
].join(", ");

/** Headers a preflight allows under the `any` policy when the browser did not list any. */
const DEFAULT_ALLOWED_HEADERS =
  "Authorization, Content-Type, Content-Range, Content-Length, Content-MD5, X-Goog-Hash, X-Upload-Content-Type, X-Upload-Content-Length, " +
  "x-goog-resumable, x-goog-acl, x-goog-if-generation-match, x-goog-encryption-algorithm, x-goog-encryption-key, x-goog-encryption-key-sha256";

const ALL_METHODS = "GET, HEAD, POST, PUT, DELETE, OPTIONS";

/** Why a `cors` configuration is refused, or undefined when it is valid. */
export function corsProblem(value: unknown): string | undefined {
  if (!Array.isArray(value)) return "cors must be a list of rules.";
  for (const [index, rule] of (value as unknown[]).entries()) {
    if (typeof rule !== "object" || rule === null || Array.isArray(rule)) return `cors[${index}] must be an object.`;
    for (const [field, entry] of Object.entries(rule as Record<string, unknown>)) {
      if (field === "maxAgeSeconds") {
        if (!Number.isSafeInteger(entry) || (entry as number) < 0) return `cors[${index}].maxAgeSeconds must be a non-negative integer.`;
      } else if (field === "origin" || field === "method" || field === "responseHeader") {
        if (!Array.isArray(entry) || !entry.every((item) => typeof item === "string")) return `cors[${index}].${field} must be a list of strings.`;
      } else return `cors[${index}] has an unknown field "${field}" (origin, method, responseHeader, maxAgeSeconds).`;
    }
  }
  return undefined;
}

/** The headers of an actual (not preflight) response to `origin` for `method`. */
export function corsResponseHeaders(policy: CorsPolicy, origin: string | undefined, method: string): Record<string, string> {
  if (origin === undefined || policy.mode === "off") return {};
  if (policy.mode === "any") return { "Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": EXPOSED_HEADERS, Vary: "Origin" };
  const rule = matchingRule(policy.rules, origin, method);
  if (!rule) return {};
  const headers: Record<string, string> = { "Access-Control-Allow-Origin": origin, Vary: "Origin" };
  if (rule.responseHeader && rule.responseHeader.length > 0) headers["Access-Control-Expose-Headers"] = rule.responseHeader.join(", ");
  return headers;
}

/** The headers of a preflight answer, given the browser's `Access-Control-Request-*` headers. */
export function corsPreflightHeaders(
  policy: CorsPolicy,
  origin: string | undefined,
  requestMethod: string | undefined,
  requestHeaders: string | undefined,
): Record<string, string> {
  if (origin === undefined || policy.mode === "off") return {};
  if (policy.mode === "any") {
    return {
      ...corsResponseHeaders(policy, origin, requestMethod ?? "GET"),
      "Access-Control-Allow-Methods": ALL_METHODS,
      "Access-Control-Allow-Headers": requestHeaders ?? DEFAULT_ALLOWED_HEADERS,
      "Access-Control-Max-Age": "3600",
    };
  }
  const rule = matchingRule(policy.rules, origin, requestMethod ?? "GET");
  if (!rule) return {};
  const allowed = new Set((rule.responseHeader ?? []).map((header) => header.toLowerCase()));
  const asked = (requestHeaders ?? "").split(",").map((header) => header.trim()).filter((header) => header !== "");
  const headers: Record<string, string> = {
    ...corsResponseHeaders(policy, origin, requestMethod ?? "GET"),
    "Access-Control-Allow-Methods": (rule.method ?? []).join(", "),
  };
  // Only headers the rule names may be sent: anything else asked for is left out, and the browser refuses.
  const granted = asked.filter((header) => allowed.has(header.toLowerCase()) || allowed.has("*"));
  if (granted.length > 0) headers["Access-Control-Allow-Headers"] = granted.join(", ");
  if (rule.maxAgeSeconds !== undefined) headers["Access-Control-Max-Age"] = String(rule.maxAgeSeconds);
  return headers;
}

function matchingRule(rules: readonly CorsRule[], origin: string, method: string): CorsRule | undefined {
  const wanted = method.toUpperCase();
  return rules.find(
    (rule) =>
      (rule.origin ?? []).some((allowed) => allowed === "*" || allowed === origin) &&
      (rule.method ?? []).some((allowed) => allowed === "*" || allowed.toUpperCase() === wanted),
  );
}
