import type { AuthHeaderSource } from "@resumable-gcs/core";

/** The OAuth scope an upload needs. */
export const STORAGE_SCOPE = "https://www.googleapis.com/auth/devstorage.read_write";

/** How the default credentials are found (Application Default Credentials unless told otherwise). */
export interface GoogleAuthSettings {
  /** A service-account key file. */
  readonly keyFilename?: string | undefined;
  /** Explicit credentials (the parsed key file). */
  readonly credentials?: Record<string, unknown> | undefined;
  /** The universe domain, for non-default universes. */
  readonly universeDomain?: string | undefined;
}

/** The parts of a google-auth-library client the refresh needs. */
interface RefreshableClient {
  refreshAccessToken?: () => Promise<unknown>;
}

/** The parts of `GoogleAuth` the refresh needs. */
interface ClientOwner {
  getClient?: () => Promise<RefreshableClient>;
}

/**
 * Drops the cached access token of a google-auth-library `GoogleAuth` or client, so the next
 * request gets a fresh one (the engine asks once, after a first 401).
 */
async function refreshGoogleAuth(auth: ClientOwner & RefreshableClient): Promise<void> {
  const client = typeof auth.getClient === "function" ? await auth.getClient() : auth;
  if (typeof client.refreshAccessToken === "function") await client.refreshAccessToken();
}

/**
 * Gives an auth source a `refresh()` when it has none but is a google-auth-library object (a
 * `GoogleAuth` or an `AuthClient`), so a 401 mid-upload can renew the token once.
 */
export function withRefresh(auth: AuthHeaderSource): AuthHeaderSource {
  if (typeof auth.refresh === "function") return auth;
  const owner = auth as AuthHeaderSource & ClientOwner & RefreshableClient;
  if (typeof owner.getClient !== "function" && typeof owner.refreshAccessToken !== "function") return auth;
  return {
    getRequestHeaders: (url) => auth.getRequestHeaders(url),
    refresh: () => refreshGoogleAuth(owner),
  };
}

/**
 * Application Default Credentials (or a key file), loaded only when a request first needs
 * credentials: google-auth-library is imported then, not when this package is, so an upload to an
 * emulator, through a signed URL or a session URI never loads it.
 */
export function googleAuthSource(settings: GoogleAuthSettings = {}): AuthHeaderSource {
  let auth: Promise<AuthHeaderSource & ClientOwner> | undefined;
  const load = (): Promise<AuthHeaderSource & ClientOwner> =>
    (auth ??= import("google-auth-library").then(
      ({ GoogleAuth }) =>
        new GoogleAuth({
          scopes: [STORAGE_SCOPE],
          ...(settings.keyFilename === undefined ? {} : { keyFilename: settings.keyFilename }),
          ...(settings.credentials === undefined ? {} : { credentials: settings.credentials }),
          ...(settings.universeDomain === undefined ? {} : { universeDomain: settings.universeDomain }),
        }) as unknown as AuthHeaderSource & ClientOwner,
    ));
  return {
    async getRequestHeaders(url) {
      return (await load()).getRequestHeaders(url);
    },
    async refresh() {
      await refreshGoogleAuth(await load());
    },
  };
}
