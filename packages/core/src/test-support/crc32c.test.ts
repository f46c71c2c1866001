import { crc32c as native } from "@node-rs/crc32";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32c, createCrc32c, portableChecksums } from "./crc32c.js";

describe("portable CRC32C", () => {
  it("has the standard check value", () => {
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
  });

  it("agrees with the native implementation, in one go and continued", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (a, b) => {
        expect(crc32c(a)).toBe(native(a));
        expect(crc32c(b, crc32c(a))).toBe(native(Buffer.concat([a, b])));
      }),
    );
  });

  it("is a Crc32cChecksum with a saveable state and independent clones", () => {
    const data = new TextEncoder().encode("hello, world");
    const c = createCrc32c();
    c.update(data.subarray(0, 5));
    const copy = c.clone();
    c.update(data.subarray(5));
    expect(c.value()).toBe(native(data));
    expect(copy.value()).toBe(native(data.subarray(0, 5)));
    expect(createCrc32c(copy.value()).value()).toBe(copy.value());
    expect(Buffer.from(c.digest()).readUInt32BE(0)).toBe(native(data));
    expect(portableChecksums.crc32c!(0).value()).toBe(0);
  });
});
