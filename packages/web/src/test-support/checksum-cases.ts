/**
 * Checksum behaviour in every runtime: known vectors, resuming a CRC32C from its 32-bit value, clones
 * that do not share state, and the same answers from every implementation the runtime can load.
 */
import { type ChecksumImplementation, type WebChecksums, loadChecksums } from "../checksums.js";
import { crc32cCombine } from "../crc32c-combine.js";
import { type SuiteCase, check } from "./case.js";
import { generated } from "./data.js";

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);
const hex = (bytes: Uint8Array): string => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

/** Every vector is checked against every implementation that loads (RFC 3720 B.4 and RFC 1321 A.5). */
function checkVectors(checksums: WebChecksums, label: string): void {
  const crcVectors: [Uint8Array, number][] = [
    [ascii(""), 0],
    [ascii("123456789"), 0xe3069283],
    [new Uint8Array(32), 0x8a9136aa],
    [new Uint8Array(32).fill(0xff), 0x62a8ab43],
    [Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
  ];
  for (const [input, expected] of crcVectors) {
    const crc = checksums.crc32c();
    crc.update(input);
    check(crc.value() === expected, `${label} CRC32C of ${input.byteLength} bytes: 0x${crc.value().toString(16)}, expected 0x${expected.toString(16)}`);
    check(hex(crc.digest()) === expected.toString(16).padStart(8, "0"), `${label} CRC32C digest is not the big-endian value`);
  }
  const md5Vectors: [string, string][] = [
    ["", "d41d8cd98f00b204e9800998ecf8427e"],
    ["abc", "900150983cd24fb0d6963f7d28e17f72"],
    ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
    ["12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a"],
  ];
  for (const [input, expected] of md5Vectors) {
    const md5 = checksums.md5();
    md5.update(ascii(input));
    check(hex(md5.digest()) === expected, `${label} MD5 of "${input.slice(0, 20)}": ${hex(md5.digest())}, expected ${expected}`);
  }
}

/** Streams `data` through the CRC32C in uneven pieces, resuming from the 32-bit value halfway. */
function checkResumeAndClone(checksums: WebChecksums, label: string): void {
  const data = generated(3 * 1024 * 1024 + 17, 7);
  const whole = checksums.crc32c();
  whole.update(data);
  const cut = 1_234_567;
  const first = checksums.crc32c();
  for (let at = 0; at < cut; at += 100_003) first.update(data.subarray(at, Math.min(cut, at + 100_003)));
  // A checkpoint carries only first.value(): a new checksum resumes from it.
  const resumed = checksums.crc32c(first.value());
  resumed.update(data.subarray(cut));
  check(resumed.value() === whole.value(), `${label}: CRC32C resumed from a 32-bit state gives 0x${resumed.value().toString(16)}, whole gives 0x${whole.value().toString(16)}`);

  const clone = first.clone();
  clone.update(data.subarray(cut, cut + 10));
  const again = checksums.crc32c(first.value());
  check(first.value() === again.value(), `${label}: updating a CRC32C clone changed the original`);

  const md5 = checksums.md5();
  md5.update(data.subarray(0, cut));
  const md5Clone = md5.clone();
  md5Clone.update(data.subarray(cut));
  md5.update(data.subarray(cut));
  const md5Whole = checksums.md5();
  md5Whole.update(data);
  check(hex(md5.digest()) === hex(md5Whole.digest()), `${label}: MD5 fed in parts differs from MD5 of the whole`);
  check(hex(md5Clone.digest()) === hex(md5Whole.digest()), `${label}: an MD5 clone did not continue from the original's state`);
  const before = hex(md5.digest());
  md5Clone.update(ascii("more"));
  check(hex(md5.digest()) === before, `${label}: updating an MD5 clone changed the original`);
}

/** Loads one implementation alone; undefined when the runtime cannot (with the reason). */
async function loadOnly(kind: ChecksumImplementation): Promise<{ checksums: WebChecksums } | { refused: string }> {
  try {
    return { checksums: await loadChecksums({ prefer: [kind] }) };
  } catch (error) {
    return { refused: error instanceof Error ? error.message : String(error) };
  }
}

/** The checksum cases. */
export const checksumCases: readonly SuiteCase[] = [
  {
    name: "checksums: the default implementations compute the RFC vectors, resume from a 32-bit CRC32C and clone independently",
    async run(environment) {
      const checksums = await loadChecksums();
      const label = `default (${checksums.implementations.crc32c}/${checksums.implementations.md5})`;
      checkVectors(checksums, label);
      checkResumeAndClone(checksums, label);
      // Where Node's APIs exist the native ones must win; a page gets WebAssembly; workerd refuses
      // run-time WebAssembly compilation, so it falls back to pure JavaScript.
      const expected: Record<typeof environment.runtime, ChecksumImplementation> = { node: "native", bun: "native", deno: "native", chromium: "wasm", workerd: "js" };
      check(checksums.implementations.crc32c === expected[environment.runtime], `CRC32C implementation in ${environment.runtime}: ${checksums.implementations.crc32c}, expected ${expected[environment.runtime]}`);
    },
  },
  {
    name: "checksums: the WebAssembly implementation (hash-wasm + combine) agrees, or the runtime refuses WebAssembly compilation",
    async run(environment) {
      const loaded = await loadOnly("wasm");
      if ("refused" in loaded) {
        check(environment.runtime === "workerd", `WebAssembly checksums failed to load in ${environment.runtime}: ${loaded.refused}`);
        return;
      }
      checkVectors(loaded.checksums, "wasm");
      checkResumeAndClone(loaded.checksums, "wasm");
    },
  },
  {
    name: "checksums: the pure-JavaScript fallback (crc-32 + @noble/hashes) agrees",
    async run() {
      const loaded = await loadOnly("js");
      if ("refused" in loaded) throw new Error(`pure-JavaScript checksums failed to load: ${loaded.refused}`);
      checkVectors(loaded.checksums, "js");
      checkResumeAndClone(loaded.checksums, "js");
    },
  },
  {
    name: "checksums: crc32cCombine equals the CRC32C of the concatenation for lengths 0 to 2^20",
    async run() {
      const { crc32c } = await loadChecksums({ prefer: ["js"] });
      const data = generated(1 << 20, 11);
      for (const split of [0, 1, 3, 255, 4096, 65_537, (1 << 20) - 1, 1 << 20]) {
        const a = crc32c();
        a.update(data.subarray(0, split));
        const b = crc32c();
        b.update(data.subarray(split));
        const whole = crc32c();
        whole.update(data);
        const combined = crc32cCombine(a.value(), b.value(), data.byteLength - split);
        check(combined === whole.value(), `combine at ${split}: 0x${combined.toString(16)} vs 0x${whole.value().toString(16)}`);
      }
    },
  },
];
