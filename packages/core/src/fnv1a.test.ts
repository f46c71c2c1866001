import { describe, expect, it } from "vitest";
import { fnv1a64 } from "./fnv1a.js";

/** The textbook definition, on BigInt: the reference the fast version must equal. */
function reference(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `fnv1a64:${hash.toString(16).padStart(16, "0")}`;
}

describe("fnv1a64", () => {
  it("matches the published FNV-1a 64 test vectors", () => {
    expect(fnv1a64("")).toBe("fnv1a64:cbf29ce484222325");
    expect(fnv1a64("a")).toBe("fnv1a64:af63dc4c8601ec8c");
    expect(fnv1a64("foobar")).toBe("fnv1a64:85944171f73967e8");
  });

  it("equals the BigInt definition on many texts, multi-byte UTF-8 included", () => {
    const texts = ["json\nhttps://storage.googleapis.com\nbkt\nobj\ncrc32c:1\nkey:-", "ü😀\u0000\uffff", "x".repeat(1000)];
    for (let i = 0; i < 200; i++) texts.push(String.fromCharCode(...Array.from({ length: i % 37 }, (_, j) => (i * 7919 + j * 104_729) % 0xd7ff)));
    for (const text of texts) expect(fnv1a64(text), JSON.stringify(text.slice(0, 20))).toBe(reference(text));
  });
});
