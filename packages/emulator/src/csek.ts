/**
 * Customer-supplied encryption keys (CSEK): the three `x-goog-encryption-*` headers. A session started
 * with a key requires the same three headers on every later request (docs/protocol.md#customer-supplied-encryption-keys); the emulator
 * does not encrypt anything, it only holds clients to that rule.
 */
import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { CustomerKey } from "./store.js";

const ALGORITHM = "x-goog-encryption-algorithm";
const KEY = "x-goog-encryption-key";
const KEY_SHA256 = "x-goog-encryption-key-sha256";

/** The key a request carries: none, a valid one, or a problem to answer 400 with. */
export type KeyReading = { ok: true; key: CustomerKey | undefined } | { ok: false; message: string };

/** Reads and validates the CSEK headers of a request. */
export function readCustomerKey(headers: IncomingHttpHeaders): KeyReading {
  const algorithm = single(headers[ALGORITHM]);
  const key = single(headers[KEY]);
  const keySha256 = single(headers[KEY_SHA256]);
  if (algorithm === undefined && key === undefined && keySha256 === undefined) return { ok: true, key: undefined };
  if (algorithm === undefined || key === undefined || keySha256 === undefined) {
    return { ok: false, message: `A customer-supplied encryption key needs all of ${ALGORITHM}, ${KEY} and ${KEY_SHA256}.` };
  }
  if (algorithm !== "AES256") return { ok: false, message: `Unsupported ${ALGORITHM} "${algorithm}" (only AES256).` };
  const raw = Buffer.from(key, "base64");
  if (raw.length !== 32 || raw.toString("base64") !== key) {
    return { ok: false, message: `${KEY} must be the base64 of a 256-bit key.` };
  }
  const actual = createHash("sha256").update(raw).digest("base64");
  if (actual !== keySha256) {
    return { ok: false, message: `${KEY_SHA256} does not match the SHA-256 of the provided encryption key.` };
  }
  return { ok: true, key: { algorithm, key, keySha256 } };
}

/** Why a request's key does not fit what the session/object was created with, or undefined. */
export function keyMismatch(expected: CustomerKey | undefined, reading: KeyReading): string | undefined {
  if (!reading.ok) return reading.message;
  const given = reading.key;
  if (!expected && !given) return undefined;
  if (expected && !given) {
    return "This upload was started with a customer-supplied encryption key: every request must repeat the x-goog-encryption-* headers.";
  }
  if (!expected) return "This upload was started without a customer-supplied encryption key.";
  if (given?.keySha256 !== expected.keySha256) {
    return "The customer-supplied encryption key does not match the one the upload was started with.";
  }
  return undefined;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
