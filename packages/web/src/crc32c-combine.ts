/**
 * CRC32C arithmetic in GF(2)[x] modulo the Castagnoli polynomial, so that a CRC32C can continue
 * from any 32-bit value.
 *
 * Why: a checkpoint carries the running CRC32C as one number, but the fast WebAssembly CRC
 * (hash-wasm) only starts from the empty prefix. The CRC of a concatenation follows from the two
 * parts' CRCs and the second part's length: crc(A ‖ B) = crc(A) · x^(8·|B|) mod P  ⊕  crc(B). So we
 * hash each new piece from scratch in WebAssembly and fold it into the running value here, in
 * O(log |B|) small multiplications: a few hundred nanoseconds per write, nothing per byte.
 *
 * Representation: bit-reflected, as CRC32C itself is computed: bit 31 holds the coefficient of x^0,
 * bit 0 that of x^31.
 */

/** The Castagnoli polynomial, bit-reflected (x^32 implied). */
const POLYNOMIAL = 0x82f63b78;
/** x^0 in the reflected representation. */
const ONE = 0x80000000;

/** a · b mod P, both reflected. */
function multiplyModP(a: number, b: number): number {
  let product = 0;
  let multiplier = b >>> 0;
  // Walk a's coefficients from x^0 upwards; `multiplier` is b · x^k mod P at step k.
  for (let bit = ONE; bit !== 0; bit >>>= 1) {
    if ((a & bit) !== 0) product ^= multiplier;
    multiplier = (multiplier & 1) !== 0 ? (multiplier >>> 1) ^ POLYNOMIAL : multiplier >>> 1;
  }
  return product >>> 0;
}

/** x^(2^k) mod P for k = 0..63: enough squarings for any byte count a JavaScript number can hold. */
const X_POW_2K: readonly number[] = (() => {
  const table: number[] = [ONE >>> 1]; // x^1
  for (let k = 1; k < 64; k += 1) table.push(multiplyModP(table[k - 1]!, table[k - 1]!));
  return table;
})();

/** x^(8·byteCount) mod P. */
function shiftForBytes(byteCount: number): number {
  let result = ONE;
  // 8·n = n shifted left by 3: start the squaring ladder at x^(2^3) and walk n's bits.
  let k = 3;
  for (let n = byteCount; n > 0; n = Math.floor(n / 2), k += 1) {
    if (n % 2 === 1) result = multiplyModP(X_POW_2K[k]!, result);
  }
  return result;
}

/**
 * The CRC32C of A ‖ B from `crcA`, `crcB` (each a standard CRC32C, pre- and post-conditioned) and
 * the byte length of B. Both CRCs and the result are unsigned 32-bit integers.
 *
 * @example
 * ```ts
 * crc32cCombine(crc32c(a), crc32c(b), b.byteLength) === crc32c(concat(a, b)); // true
 * ```
 */
export function crc32cCombine(crcA: number, crcB: number, lengthB: number): number {
  if (!Number.isSafeInteger(lengthB) || lengthB < 0) throw new RangeError(`crc32cCombine: length must be a non-negative integer, got ${lengthB}`);
  if (lengthB === 0) return crcA >>> 0;
  return (multiplyModP(shiftForBytes(lengthB), crcA >>> 0) ^ crcB) >>> 0;
}
