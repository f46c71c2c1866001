/**
 * CRC32C and MD5 for every runtime the web adapter runs in, loaded lazily.
 *
 * Order of preference, per algorithm (the first that loads wins):
 * - `native`: `@node-rs/crc32` (SIMD CRC32C) and `node:crypto` MD5, where the runtime has Node's APIs
 *   (Node, Bun, Deno). Imported through a computed specifier so browser bundlers never pull them in.
 * - `wasm`: hash-wasm's WebAssembly CRC32 (Castagnoli polynomial) and MD5: about twice the speed of
 *   the best pure-JavaScript CRC32C and MD5 we measured (see the README), and fetched/compiled only
 *   when the first upload starts, never at page load.
 * - `js`: crc-32's CRC32C (seedable) and @noble/hashes' MD5, for runtimes that refuse to compile
 *   WebAssembly from bytes at run time (Cloudflare Workers/workerd do).
 *
 * Core asks for checksums synchronously, so everything async (imports, WebAssembly compilation)
 * happens once in {@link loadChecksums}; after that every call is synchronous.
 */
import type { Checksum, Crc32cChecksum } from "@resumable-gcs/core";
import { crc32cCombine } from "./crc32c-combine.js";

/** Where a checksum implementation comes from. */
export type ChecksumImplementation = "native" | "wasm" | "js";

/** Checksums ready for synchronous use, with the implementation each one came from. */
export interface WebChecksums {
  /** A running CRC32C starting from `initial` (the CRC32C of an earlier prefix; 0 for none). */
  readonly crc32c: (initial?: number) => Crc32cChecksum;
  /** A running MD5 over an empty prefix. */
  readonly md5: () => Checksum;
  /** Which implementation each algorithm uses here, e.g. for diagnostics and benchmarks. */
  readonly implementations: { readonly crc32c: ChecksumImplementation; readonly md5: ChecksumImplementation };
}

/** Options for {@link loadChecksums}. */
export interface LoadChecksumsOptions {
  /** Implementations to try, in order. Default `["native", "wasm", "js"]`. */
  readonly prefer?: readonly ChecksumImplementation[];
}

const DEFAULT_ORDER: readonly ChecksumImplementation[] = ["native", "wasm", "js"];

function uint32ToBytes(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0, false);
  return out;
}

/** A CRC32C whose state is one number and whose steps come from `step(previous, bytes)`. */
class SteppedCrc32c implements Crc32cChecksum {
  #value: number;
  readonly #step: (previous: number, bytes: Uint8Array) => number;

  constructor(step: (previous: number, bytes: Uint8Array) => number, initial: number) {
    this.#step = step;
    this.#value = initial >>> 0;
  }

  update(bytes: Uint8Array): void {
    if (bytes.byteLength > 0) this.#value = this.#step(this.#value, bytes) >>> 0;
  }

  value(): number {
    return this.#value;
  }

  digest(): Uint8Array {
    return uint32ToBytes(this.#value);
  }

  clone(): SteppedCrc32c {
    return new SteppedCrc32c(this.#step, this.#value);
  }
}

/**
 * An MD5 held as saved hasher state over one shared WebAssembly instance: hash-wasm creates
 * instances asynchronously, but core clones an MD5 synchronously (to digest "everything so far plus
 * the final chunk"), so each checksum keeps its state bytes and borrows the instance per call.
 */
class SharedStateMd5 implements Checksum {
  #state: Uint8Array;
  readonly #hasher: WasmHasher;

  constructor(hasher: WasmHasher, state: Uint8Array) {
    this.#hasher = hasher;
    this.#state = state;
  }

  update(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    this.#hasher.load(this.#state);
    this.#hasher.update(bytes);
    this.#state = this.#hasher.save();
  }

  digest(): Uint8Array {
    this.#hasher.load(this.#state);
    return this.#hasher.digest("binary");
  }

  clone(): SharedStateMd5 {
    return new SharedStateMd5(this.#hasher, this.#state.slice());
  }
}

/** The part of hash-wasm's IHasher we use. */
interface WasmHasher {
  init(): unknown;
  update(data: Uint8Array): unknown;
  digest(outputType: "binary"): Uint8Array;
  save(): Uint8Array;
  load(state: Uint8Array): unknown;
}

/** The part of @noble/hashes' hash instances we use. */
interface NobleHash {
  update(data: Uint8Array): NobleHash;
  digest(): Uint8Array;
  clone(): NobleHash;
}

class NobleMd5 implements Checksum {
  readonly #hash: NobleHash;
  constructor(hash: NobleHash) {
    this.#hash = hash;
  }
  update(bytes: Uint8Array): void {
    this.#hash.update(bytes);
  }
  digest(): Uint8Array {
    // digest() finishes a noble hash: digest a copy so this one keeps running.
    return this.#hash.clone().digest();
  }
  clone(): NobleMd5 {
    return new NobleMd5(this.#hash.clone());
  }
}

/** The part of node:crypto's Hash we use (typed here: the package itself has no Node types). */
interface NodeHash {
  update(data: Uint8Array): NodeHash;
  digest(): Uint8Array;
  copy(): NodeHash;
}

class NodeMd5 implements Checksum {
  readonly #hash: NodeHash;
  constructor(hash: NodeHash) {
    this.#hash = hash;
  }
  update(bytes: Uint8Array): void {
    this.#hash.update(bytes);
  }
  digest(): Uint8Array {
    return new Uint8Array(this.#hash.copy().digest());
  }
  clone(): NodeMd5 {
    return new NodeMd5(this.#hash.copy());
  }
}

/** Whether this runtime exposes Node's module system (Node, Bun, Deno all do). */
function hasNodeApis(): boolean {
  const versions = (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions;
  return typeof versions?.node === "string";
}

/** A dynamic import bundlers leave alone: the specifier is computed, so it is resolved only at run time. */
function importAtRunTime(specifier: string): Promise<unknown> {
  return import(/* @vite-ignore */ specifier) as Promise<unknown>;
}

type Crc32cFactory = (initial?: number) => Crc32cChecksum;
type Md5Factory = () => Checksum;

async function loadCrc32c(kind: ChecksumImplementation): Promise<Crc32cFactory> {
  switch (kind) {
    case "native": {
      if (!hasNodeApis()) throw new Error("no Node APIs here");
      const native = (await importAtRunTime("@node-rs/crc32")) as { crc32c(input: Uint8Array, initial?: number): number };
      const step = (previous: number, bytes: Uint8Array): number => native.crc32c(bytes, previous);
      // A native addon may load yet fail on first use (wrong platform build): prove it once.
      if (step(0, new Uint8Array([0x61])) >>> 0 !== 0xc1d04330) throw new Error("@node-rs/crc32 gave a wrong CRC32C");
      return (initial = 0) => new SteppedCrc32c(step, initial);
    }
    case "wasm": {
      const { createCRC32 } = await import("hash-wasm");
      const hasher = (await createCRC32(0x82f63b78)) as unknown as WasmHasher;
      const fresh = (bytes: Uint8Array): number => {
        hasher.init();
        hasher.update(bytes);
        const digest = hasher.digest("binary");
        return new DataView(digest.buffer, digest.byteOffset, 4).getUint32(0, false);
      };
      const step = (previous: number, bytes: Uint8Array): number => crc32cCombine(previous, fresh(bytes), bytes.byteLength);
      return (initial = 0) => new SteppedCrc32c(step, initial);
    }
    case "js": {
      const module = (await import("crc-32/crc32c.js")) as { default?: Crc32Module } & Partial<Crc32Module>;
      const crc = module.default ?? (module as Crc32Module);
      // crc-32 takes and returns signed 32-bit values; the seed is the CRC of the prefix.
      const step = (previous: number, bytes: Uint8Array): number => crc.buf(bytes, previous | 0) >>> 0;
      return (initial = 0) => new SteppedCrc32c(step, initial);
    }
  }
}

interface Crc32Module {
  buf(data: Uint8Array, seed?: number): number;
}

async function loadMd5(kind: ChecksumImplementation): Promise<Md5Factory> {
  switch (kind) {
    case "native": {
      if (!hasNodeApis()) throw new Error("no Node APIs here");
      const crypto = (await importAtRunTime("node:crypto")) as { createHash(algorithm: "md5"): NodeHash };
      crypto.createHash("md5").update(new Uint8Array(1)).digest();
      return () => new NodeMd5(crypto.createHash("md5"));
    }
    case "wasm": {
      const { createMD5 } = await import("hash-wasm");
      const hasher = (await createMD5()) as unknown as WasmHasher;
      hasher.init();
      const empty = hasher.save();
      return () => new SharedStateMd5(hasher, empty.slice());
    }
    case "js": {
      const { md5 } = await import("@noble/hashes/legacy.js");
      return () => new NobleMd5(md5.create() as NobleHash);
    }
  }
}

async function firstThatLoads<T>(order: readonly ChecksumImplementation[], load: (kind: ChecksumImplementation) => Promise<T>, what: string): Promise<{ value: T; kind: ChecksumImplementation }> {
  const reasons: string[] = [];
  for (const kind of order) {
    try {
      return { value: await load(kind), kind };
    } catch (error) {
      reasons.push(`${kind}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new Error(`no ${what} implementation could be loaded (${reasons.join("; ")})`);
}

const cache = new Map<string, Promise<WebChecksums>>();

/**
 * Loads (once per preference order) the fastest CRC32C and MD5 this runtime offers.
 *
 * @example
 * ```ts
 * const checksums = await loadChecksums();
 * const crc = checksums.crc32c();
 * crc.update(new TextEncoder().encode("hello"));
 * crc.value(); // 0x9a71bb4c
 * ```
 */
export function loadChecksums(options: LoadChecksumsOptions = {}): Promise<WebChecksums> {
  const order = options.prefer ?? DEFAULT_ORDER;
  if (order.length === 0) return Promise.reject(new RangeError("loadChecksums: `prefer` lists no implementation"));
  const key = order.join(",");
  let loading = cache.get(key);
  if (loading === undefined) {
    loading = (async () => {
      const [crc, md5] = await Promise.all([firstThatLoads(order, loadCrc32c, "CRC32C"), firstThatLoads(order, loadMd5, "MD5")]);
      return { crc32c: crc.value, md5: md5.value, implementations: { crc32c: crc.kind, md5: md5.kind } };
    })();
    // A failed load may be transient (a module fetch in a page): let the next caller try again.
    loading.catch(() => cache.delete(key));
    cache.set(key, loading);
  }
  return loading;
}
