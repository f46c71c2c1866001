import { describe, expect, it } from "vitest";
import { TransportError, bearerTokenSource, mergeHeaders, type HeadersLike } from "./transport.js";

describe("TransportError", () => {
  it("carries kind, code, tooLarge and cause", () => {
    const cause = new Error("socket hang up");
    const error = new TransportError("truncated", "PUT https://h/p: body over 1048576 bytes", { code: "ERR_TOO_LARGE", tooLarge: true, cause });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: "TransportError", kind: "truncated", code: "ERR_TOO_LARGE", tooLarge: true });
    expect(error.cause).toBe(cause);
    const plain = new TransportError("network", "reset");
    expect(plain.code).toBeUndefined();
    expect(plain.tooLarge).toBeUndefined();
  });

  it("refuses a kind outside the contract, so a typo cannot pass as a network failure", () => {
    expect(() => new TransportError("netwrok" as never, "x")).toThrow(/unknown kind "netwrok"/);
  });
});

describe("mergeHeaders", () => {
  it("lower-cases names and lets extra win, from a record or a Headers-like object", () => {
    const base = { "Content-Type": "application/json", "x-goog-user-project": "a" };
    expect(mergeHeaders(base, { Authorization: "Bearer t", "X-Goog-User-Project": "b" })).toEqual({
      "content-type": "application/json",
      "x-goog-user-project": "b",
      authorization: "Bearer t",
    });
    const headers: HeadersLike = {
      forEach(callback) {
        callback("Bearer h", "Authorization");
      },
    };
    expect(mergeHeaders(base, headers)).toEqual({ "content-type": "application/json", "x-goog-user-project": "a", authorization: "Bearer h" });
    expect(mergeHeaders(base, new Headers({ Authorization: "Bearer w" }))).toMatchObject({ authorization: "Bearer w" });
  });

  it("does not modify its inputs", () => {
    const base = { a: "1" };
    const extra = { B: "2" };
    mergeHeaders(base, extra);
    expect(base).toEqual({ a: "1" });
    expect(extra).toEqual({ B: "2" });
  });
});

describe("bearerTokenSource", () => {
  it("turns a token function into an Authorization header, asking on every request", async () => {
    let n = 0;
    const source = bearerTokenSource(() => `token-${++n}`);
    expect(await source.getRequestHeaders()).toEqual({ authorization: "Bearer token-1" });
    expect(await source.getRequestHeaders("https://storage.googleapis.com/upload")).toEqual({ authorization: "Bearer token-2" });
    await expect(source.refresh?.()).resolves.toBeUndefined();
  });

  it("rejects an empty or header-breaking token, and a non-function", async () => {
    await expect(bearerTokenSource(() => Promise.resolve("")).getRequestHeaders()).rejects.toThrow(/no usable token/);
    await expect(bearerTokenSource(() => "a\r\nx-evil: 1").getRequestHeaders()).rejects.toThrow(/no usable token/);
    expect(() => bearerTokenSource("token" as never)).toThrow(TypeError);
  });
});
