/**
 * FNV-1a, 64 bits, over the UTF-8 bytes of a text: the one small digest core uses to tell
 * checkpoints and option sets apart (`fingerprint`, checkpoint `integrity`). It is not a security
 * measure: it catches a resumed wrong upload and a hand-edited checkpoint, not an attacker.
 *
 * Computed on two 32-bit halves with plain number arithmetic (every intermediate stays below 2^53,
 * so it is exact): a checkpoint is taken once per acknowledged chunk, and BigInt arithmetic costs
 * about ten times more per byte.
 */
import { encodeUtf8 } from "./utf8.js";

const TWO_32 = 4_294_967_296;
/** The low 24 bits of the FNV 64-bit prime 0x100000001b3 (its other set bit is 2^40). */
const PRIME_LOW = 0x1b3;

/** `fnv1a64:` followed by the 16 hex digits of the FNV-1a 64 digest of `text` (as UTF-8). */
export function fnv1a64(text: string): string {
  let high = 0xcbf29ce4;
  let low = 0x84222325;
  for (const byte of encodeUtf8(text)) {
    low = (low ^ byte) >>> 0;
    // (high·2^32 + low) · (2^40 + 0x1b3) mod 2^64: the 2^40 term moves low·2^8 into the high half.
    const lowProduct = low * PRIME_LOW;
    const carry = Math.floor(lowProduct / TWO_32);
    high = (high * PRIME_LOW + low * 256 + carry) >>> 0;
    low = lowProduct >>> 0;
  }
  return `fnv1a64:${high.toString(16).padStart(8, "0")}${low.toString(16).padStart(8, "0")}`;
}
