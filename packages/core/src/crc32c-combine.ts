/**
 * CRC32C arithmetic without the bytes: the CRC32C of A followed by B from the CRC32C of A, the
 * CRC32C of B and B's length. The upload computes each write's CRC32C when the write arrives (its
 * bytes are then in cache, and no request waits on it) and folds it into the running checksum only
 * once the server has acknowledged those bytes, with this, instead of reading the bytes a second time
 * on the path between one chunk's answer and the next chunk's request.
 *
 * The math: a CRC is linear over GF(2), and appending n zero bytes to a message multiplies its CRC
 * register by x^(8n) modulo the polynomial, so crc(A‖B) = crc(A)·x^(8·|B|) mod P ⊕ crc(B) (the
 * initial and final inversions of CRC32C cancel out in that identity). Polynomials are held
 * bit-reflected, as CRC32C is computed: the most significant bit is the coefficient of x^0.
 */

/** The CRC32C (Castagnoli) polynomial, bit-reflected, without its x^32 term. */
const POLYNOMIAL = 0x82f63b78;

/** x^0, the multiplicative identity, in the reflected representation. */
const ONE = 0x80000000;

/** a·b mod P. */
function multiply(a: number, b: number): number {
  let product = 0;
  let factor = b >>> 0;
  for (let bit = 31; bit >= 0; bit--) {
    if ((a >>> bit) & 1) product ^= factor;
    // factor·x: the coefficient of x^31 (the lowest bit) leaves, and P folds it back in.
    factor = factor & 1 ? (factor >>> 1) ^ POLYNOMIAL : factor >>> 1;
  }
  return product >>> 0;
}

/**
 * x^(2^k) mod P for k = 0..63: enough for any length a JavaScript number can state (2^53 bytes
 * are 2^56 bits), whatever the multiplicative order of x.
 */
const POWERS: readonly number[] = (() => {
  const powers = [ONE >>> 1]; // x^1
  for (let k = 1; k < 64; k++) powers.push(multiply(powers[k - 1]!, powers[k - 1]!));
  return powers;
})();

let cachedLength = -1;
let cachedPower = ONE;

/** x^(8·length) mod P: the operator that appends `length` zero bytes. The last length is cached. */
function zeroBytesOperator(length: number): number {
  if (length === cachedLength) return cachedPower;
  let power = ONE;
  let k = 3; // 8 bits per byte: start at x^(2^3)
  for (let rest = length; rest > 0; rest = Math.floor(rest / 2), k++) {
    if (rest % 2 === 1) power = multiply(POWERS[k]!, power);
  }
  cachedLength = length;
  cachedPower = power;
  return power;
}

/**
 * The CRC32C of A followed by B.
 *
 * @param crcA - CRC32C of A (unsigned or signed 32-bit).
 * @param crcB - CRC32C of B.
 * @param lengthB - B's length in bytes (a non-negative safe integer).
 * @returns the unsigned CRC32C of A‖B.
 */
export function crc32cCombine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB === 0) return crcA >>> 0;
  return (multiply(zeroBytesOperator(lengthB), crcA) ^ crcB) >>> 0;
}

/**
 * The CRC32C of B, from the CRC32C of A‖B, the CRC32C of A and B's length: what remains of a
 * write's checksum once a prefix of it was taken apart.
 *
 * @returns the unsigned CRC32C of B.
 */
export function crc32cRemainder(crcAB: number, crcA: number, lengthB: number): number {
  if (lengthB === 0) return 0;
  return (multiply(zeroBytesOperator(lengthB), crcA) ^ crcAB) >>> 0;
}
