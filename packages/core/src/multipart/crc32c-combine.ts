/**
 * CRC32C of a concatenation from the CRC32Cs of its pieces, without their bytes.
 *
 * A multipart upload computes each part's CRC32C (GCS checks it on the part) and needs the whole
 * object's CRC32C too (to compare with the object after completion). Combining the part values
 * costs a few hundred operations per part instead of a second pass over every byte, and lets a
 * checkpoint carry only per-part values.
 *
 * The math: appending `n` bytes `B` to `A` gives `crc(A‖B) = crc(A) · x^(8n) mod P ⊕ crc(B)` over
 * GF(2), where P is the Castagnoli polynomial (the pre/post inversion of the CRC cancels out). The
 * polynomials are in the reflected form CRC32C uses (bit 31 is x⁰); `x^(8n)` is built by repeated
 * squaring from a table of `x^(2^k)`.
 */

/** The reflected Castagnoli polynomial. */
const POLY = 0x82f63b78;

/** a · b mod P, both reflected 32-bit polynomials. */
function multiplyModP(a: number, b: number): number {
  let product = 0;
  let bit = 0x80000000;
  let factor = b >>> 0;
  for (let i = 0; i < 32; i++) {
    if ((a & bit) !== 0) product ^= factor;
    bit >>>= 1;
    factor = factor & 1 ? (factor >>> 1) ^ POLY : factor >>> 1;
  }
  return product >>> 0;
}

/** X2K[k] = x^(2^k) mod P, for exponents up to 2^63 bits. */
const X2K: number[] = [0x40000000];
for (let k = 1; k < 64; k++) X2K.push(multiplyModP(X2K[k - 1]!, X2K[k - 1]!));

/** x^(8 · bytes) mod P. */
function shiftFor(bytes: number): number {
  let result = 0x80000000; // x⁰
  let bits = bytes * 8;
  for (let k = 0; bits > 0; k++) {
    // `bits` may exceed 2^32 (parts of gigabytes): halve arithmetically, not with bit shifts.
    if (bits % 2 === 1) result = multiplyModP(X2K[k]!, result);
    bits = Math.floor(bits / 2);
  }
  return result;
}

/**
 * The CRC32C of `A‖B` from `crcA = crc32c(A)`, `crcB = crc32c(B)` and `lengthB = B.length`
 * (unsigned 32-bit values, as `Crc32cChecksum.value()` gives them).
 */
export function combineCrc32c(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB === 0) return crcA >>> 0;
  return (multiplyModP(shiftFor(lengthB), crcA >>> 0) ^ crcB) >>> 0;
}
