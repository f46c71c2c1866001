/** Best-effort system error code of an HTTP client's error or its causes (undici nests them). */
export function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === "object"; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The message of whatever was thrown, for a redacted description (never the error object itself). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
