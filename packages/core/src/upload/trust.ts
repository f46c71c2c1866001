/**
 * The trust rules, in one place, for every URL an upload sends to:
 *
 * 1. Credentials (`credentials: true` in the send options) go only to the configured endpoint's
 *    origin, only for a JSON API upload, and only over https unless `authOverHttp`. A signed URL
 *    carries its own authorisation and a session URI is itself the capability: neither gets any.
 * 2. A session URI (the `sessionUri` option, the session start's `Location`, a checkpoint's) must be
 *    on the home origin (the endpoint's, or for a signed-URL start the signed URL's) or on an origin
 *    listed in `trustedSessionOrigins`; otherwise the upload fails with `untrusted-session-uri`
 *    before anything is sent there.
 * 3. Plain http only to loopback hosts unless `allowInsecureHttp`.
 *
 * Every request also passes {@link TrustRules.allows} on its way out (defence in depth: the engine
 * only builds URLs from the checked ones).
 */
import { UploadError, ValidationError } from "../errors.js";
import { redactUrl } from "../redact.js";
import type { ResolvedEndpoint } from "./endpoint.js";
import { isLoopbackHost, parseHttpUrl } from "./url.js";
import type { ValidatedTarget } from "./validate.js";

/** Where a session URI came from, for messages. */
export type SessionUriSource = "sessionUri" | "Location" | "checkpoint";

const UNTRUSTED = "untrusted-session-uri";

/** The trust decisions of one upload (see the module rules). */
export class TrustRules {
  /** Whether any request of this upload may carry credentials. */
  readonly credentialsAllowed: boolean;
  /** The origin session URIs belong to without being listed. */
  readonly homeOrigin: string;
  readonly #endpoint: ResolvedEndpoint;
  readonly #trusted: ReadonlySet<string>;
  readonly #allowInsecureHttp: boolean;
  readonly #accepted = new Set<string>();

  /**
   * @param endpoint - the resolved endpoint.
   * @param target - the validated target.
   * @param options - the trust options.
   * @throws ValidationError for a signed URL that is not a plain http(s) URL, or plain http to a remote host.
   */
  constructor(
    endpoint: ResolvedEndpoint,
    target: ValidatedTarget,
    options: { readonly trustedSessionOrigins: readonly string[]; readonly allowInsecureHttp: boolean; readonly authOverHttp: boolean },
  ) {
    this.#endpoint = endpoint;
    this.#trusted = new Set(options.trustedSessionOrigins);
    this.#allowInsecureHttp = options.allowInsecureHttp;
    this.credentialsAllowed = target.kind === "json" && (!endpoint.insecure || options.authOverHttp);
    if (target.kind === "signed-url") {
      const signed = parseHttpUrl(target.url);
      if (signed === undefined) throw new ValidationError("signedUrl", `expected a plain absolute http(s) URL, came ${redactUrl(target.url)}`);
      if (signed.scheme === "http" && !isLoopbackHost(signed.hostname) && !this.#allowInsecureHttp) {
        throw new ValidationError("signedUrl", `refusing plain http to non-loopback host ${signed.hostname}: use https, or set allowInsecureHttp for a trusted network`);
      }
      this.homeOrigin = signed.origin;
    } else {
      this.homeOrigin = endpoint.origin;
    }
    this.#accepted.add(this.homeOrigin);
  }

  /**
   * Checks a session URI; once accepted, its origin may receive requests.
   *
   * @throws ValidationError for an unreadable `sessionUri` option; UploadError `untrusted-session-uri`
   *   for a foreign origin or plain http to a remote host.
   */
  checkSessionUri(uri: string, source: SessionUriSource): void {
    const parsed = parseHttpUrl(uri);
    if (parsed === undefined) {
      if (source === "sessionUri") throw new ValidationError("sessionUri", `expected a plain absolute http(s) URL, came ${redactUrl(uri)}`);
      throw new UploadError(UNTRUSTED, `the ${source}'s session URI is not a plain absolute http(s) URL (${redactUrl(uri)}); nothing was sent to it`, { sessionUri: uri });
    }
    if (parsed.scheme === "http" && !isLoopbackHost(parsed.hostname) && !this.#allowInsecureHttp) {
      throw new UploadError(UNTRUSTED, `the ${source}'s session URI uses plain http to non-loopback host ${parsed.hostname}; nothing was sent to it (set allowInsecureHttp for a trusted network)`, {
        sessionUri: uri,
      });
    }
    if (parsed.origin !== this.homeOrigin && !this.#trusted.has(parsed.origin)) {
      throw new UploadError(
        UNTRUSTED,
        `the ${source}'s session URI is on ${parsed.origin}, not on ${this.homeOrigin}; nothing was sent to it (list the origin in trustedSessionOrigins if it is yours)`,
        { sessionUri: uri },
      );
    }
    this.#accepted.add(parsed.origin);
  }

  /** Whether a request to `url` may carry credentials (rule 1). */
  credentialsFor(url: string): boolean {
    return this.credentialsAllowed && parseHttpUrl(url)?.origin === this.#endpoint.origin;
  }

  /** Whether `url` is on an origin this upload may send to (the home origin or an accepted session URI's). */
  allows(url: string): boolean {
    const origin = parseHttpUrl(url)?.origin;
    return origin !== undefined && this.#accepted.has(origin);
  }
}
