/**
 * PREVIEW ONLY, never landed: Transport contract v2 as the team contract fixes it, until core ships it.
 * Every import of this file becomes an import of "@resumable-gcs/core" when v2 lands.
 */
import type { AbortSignalLike, TransportRequest, TransportResponse } from "@resumable-gcs/core";
import { redactSessionUri } from "@resumable-gcs/core";

export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
export type TransportErrorKind = "network" | "timeout" | "aborted" | "truncated" | "auth";
export interface TransportCapabilities {
  readonly uploadProgress: boolean;
}
export interface TransportSendOptions {
  readonly signal: AbortSignalLike;
  readonly onUploadProgress?: (bytesSent: number) => void;
  readonly credentials: boolean;
  readonly refreshCredentials?: boolean;
  readonly maxResponseBytes: number;
}
export interface Transport {
  readonly specificationVersion: 2;
  readonly capabilities: TransportCapabilities;
  send(request: TransportRequest, options: TransportSendOptions): Promise<TransportResponse>;
  close?(): void | Promise<void>;
}
export class TransportError extends Error {
  readonly kind: TransportErrorKind;
  readonly code?: string;
  readonly tooLarge?: boolean;
  constructor(kind: TransportErrorKind, message: string, options: { cause?: unknown; code?: string; tooLarge?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TransportError";
    this.kind = kind;
    if (options.code !== undefined) this.code = options.code;
    if (options.tooLarge !== undefined) this.tooLarge = options.tooLarge;
  }
}
export interface AuthHeaderSource {
  getRequestHeaders(url?: string): Promise<Headers | Record<string, string>>;
  refresh?(): Promise<void>;
}
export function bearerTokenSource(getToken: () => Promise<string> | string): AuthHeaderSource {
  return { getRequestHeaders: async () => ({ authorization: `Bearer ${await getToken()}` }) };
}
export function mergeHeaders(base: Readonly<Record<string, string>>, extra: Headers | Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) out[name.toLowerCase()] = value;
  const entries = extra instanceof Headers ? [...extra.entries()] : Object.entries(extra);
  for (const [name, value] of entries) out[name.toLowerCase()] = value;
  return out;
}
export function redactUrl(url: string): string {
  return redactSessionUri(url);
}
