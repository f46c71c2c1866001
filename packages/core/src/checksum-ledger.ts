/**
 * The checksum ledger: every end-to-end digest of one upload, CRC32C and MD5 together, kept in one
 * place so each rule is written once.
 *
 * Rules:
 *  1. The running digests cover exactly the acknowledged bytes, each once, in stream order:
 *     {@link ChecksumLedger.absorb} is called with the views the byte queue releases, and nothing
 *     else feeds them. A rewind (the server kept less than was sent) cannot count a byte twice,
 *     because unacknowledged bytes never touch the running state.
 *  2. The finalizing request's digest is taken on copies: running state plus the retained tail.
 *     The live state keeps covering only acknowledged bytes, whatever that request's fate.
 *  3. CRC32C state is one 32-bit number, so a checkpoint carries it and a new process continues it.
 *     MD5 state is not portable: after a resume from a non-zero offset only CRC32C is sent and
 *     verified (`md5Skipped`).
 *  4. Verification against the final object: every digest asked for must be present in the object
 *     in a usable form (base64 of 4 or 16 bytes), or the upload is `checksum-unverifiable`; a
 *     present digest that differs is `checksum-mismatch`.
 *  5. A view's CRC32C may come precomputed (`absorb`'s `crc32cs`, taken when the bytes were
 *     written): the running CRC32C then absorbs it by combination, without reading the bytes again.
 */
import { decodeBase64, encodeBase64 } from "./base64.js";
import type { Checksum, Crc32cChecksum } from "./checksum.js";
import { crc32cCombine } from "./crc32c-combine.js";

/** The implementations the ledger runs (the ones the options asked for). */
export interface LedgerDigests {
  readonly crc32c?: (initial?: number) => Crc32cChecksum;
  readonly md5?: () => Checksum;
}

/** Where the ledger starts: offset 0, or a checkpoint's offset and CRC32C. */
export interface LedgerStart {
  /** The stream offset of the first byte the ledger will absorb. */
  readonly offset: number;
  /** The CRC32C of bytes [0, offset), from a checkpoint. */
  readonly crc32c?: number;
}

/** The digests of the whole object, for `X-Goog-Hash`. */
export interface ObjectDigests {
  readonly crc32c?: Uint8Array;
  readonly md5?: Uint8Array;
}

/** The object fields the ledger reads (GCS's object resource). */
export interface DigestedObject {
  readonly crc32c?: unknown;
  readonly md5Hash?: unknown;
}

/** The outcome of {@link ChecksumLedger.verify}. */
export type Verification =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: "checksum-mismatch" | "checksum-unverifiable"; readonly message: string };

const VERIFIED: Verification = { ok: true };

/** The running CRC32C and MD5 of one upload (see the module header). */
export class ChecksumLedger {
  readonly #newCrc32c: ((initial?: number) => Crc32cChecksum) | undefined;
  #crc32c: Crc32cChecksum | undefined;
  readonly #md5: Checksum | undefined;
  readonly #md5Skipped: boolean;

  /**
   * @param digests - the implementations in use (none: the ledger tracks nothing and verifies nothing).
   * @param start - the offset (and CRC32C) the ledger continues from.
   */
  constructor(digests: LedgerDigests, start: LedgerStart = { offset: 0 }) {
    this.#newCrc32c = digests.crc32c;
    this.#crc32c = digests.crc32c?.(start.crc32c ?? 0);
    // MD5 must see every byte from 0 in this process (rule 3).
    this.#md5 = start.offset === 0 ? digests.md5?.() : undefined;
    this.#md5Skipped = digests.md5 !== undefined && start.offset > 0;
  }

  /** True when MD5 was asked for but cannot cover bytes a former process sent (rule 3). */
  get md5Skipped(): boolean {
    return this.#md5Skipped;
  }

  /** The running CRC32C as an unsigned 32-bit number (the checkpoint's `crc32c`), when CRC32C is in use. */
  get crc32cValue(): number | undefined {
    return this.#crc32c === undefined ? undefined : this.#crc32c.value() >>> 0;
  }

  /** True when the ledger computes any digest. */
  get active(): boolean {
    return this.#crc32c !== undefined || this.#md5 !== undefined;
  }

  /** True when the ledger runs a CRC32C (and so can use precomputed ones, rule 5). */
  get crc32cActive(): boolean {
    return this.#crc32c !== undefined;
  }

  /** A fresh CRC32C over nothing, to precompute a view's (rule 5); `undefined` when CRC32C is not in use. */
  newCrc32c(): Crc32cChecksum | undefined {
    return this.#newCrc32c?.(0);
  }

  /**
   * Feeds acknowledged bytes, in stream order (rule 1).
   *
   * @param views - the bytes.
   * @param crc32cs - for each view, its CRC32C when already known (rule 5), else `undefined`.
   */
  absorb(views: readonly Uint8Array[], crc32cs?: readonly (number | undefined)[]): void {
    const md5 = this.#md5;
    for (let i = 0; i < views.length; i++) {
      const view = views[i]!;
      const known = crc32cs?.[i];
      if (known !== undefined && this.#crc32c !== undefined) this.#crc32c = this.#newCrc32c!(crc32cCombine(this.#crc32c.value(), known, view.length));
      else this.#crc32c?.update(view);
      md5?.update(view);
    }
  }

  /** The whole object's digests: running state plus `tail`, the retained bytes up to the end (rule 2). */
  finalizeDigest(tail: readonly Uint8Array[]): ObjectDigests {
    const crc32c = this.#crc32c?.clone();
    const md5 = this.#md5?.clone();
    for (const view of tail) {
      crc32c?.update(view);
      md5?.update(view);
    }
    return { ...(crc32c === undefined ? {} : { crc32c: crc32c.digest() }), ...(md5 === undefined ? {} : { md5: md5.digest() }) };
  }

  /**
   * Compares the object's digests with the bytes: running state plus `tail` (rule 4).
   *
   * @param object - the final object resource.
   * @param tail - retained bytes not yet absorbed, up to the end of the object.
   */
  verify(object: DigestedObject, tail: readonly Uint8Array[] = []): Verification {
    if (!this.active) return VERIFIED;
    const ours = this.finalizeDigest(tail);
    return check("CRC32C", "crc32c", ours.crc32c, object.crc32c) ?? check("MD5", "md5Hash", ours.md5, object.md5Hash) ?? VERIFIED;
  }
}

function check(label: string, field: string, ours: Uint8Array | undefined, theirs: unknown): Verification | undefined {
  if (ours === undefined) return undefined;
  const decoded = typeof theirs === "string" ? decodeBase64(theirs.trim()) : undefined;
  if (decoded?.length !== ours.length) {
    const came = theirs === undefined ? "none" : typeof theirs === "string" ? `"${theirs.slice(0, 40)}", not base64 of ${ours.length} bytes` : `a ${typeof theirs}`;
    return { ok: false, code: "checksum-unverifiable", message: `expected the object to state its ${label} (${field}) to compare with the bytes sent, came ${came}` };
  }
  for (let i = 0; i < ours.length; i++) {
    if (decoded[i] !== ours[i]) {
      return { ok: false, code: "checksum-mismatch", message: `expected the object's ${label} to be ${encodeBase64(ours)}, came ${String(theirs)}` };
    }
  }
  return undefined;
}
