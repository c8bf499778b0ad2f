/** metaOp / isTombstone: a Flow document's `_meta/op`, read from its JSON text. */
import { describe, expect, it } from "vitest";
import { isTombstone, metaOp } from "../../src/sdk/meta-op.js";

describe("metaOp", () => {
  it("reads c, u and d from _meta/op", () => {
    expect(metaOp('{"_meta":{"op":"c","uuid":"x"},"id":1}')).toBe("c");
    expect(metaOp('{"_meta": {"op" : "u"}}')).toBe("u");
    expect(metaOp('{"id":1,"_meta":{"op":"d"}}')).toBe("d");
  });
  it("ignores an op outside _meta, other values, and text that is not JSON", () => {
    expect(metaOp('{"op":"d","_meta":{"uuid":"x"}}')).toBeUndefined();
    expect(metaOp('{"_meta":{"op":"x"}}')).toBeUndefined();
    expect(metaOp('{"_meta":{"op":"d"}')).toBeUndefined();
    expect(metaOp("")).toBeUndefined();
  });
});

describe("isTombstone", () => {
  it("is true only for documents whose _meta/op is d", () => {
    expect(isTombstone('{"_meta":{"op":"d"}}')).toBe(true);
    expect(isTombstone('{"_meta":{"op":"u"}}')).toBe(false);
    expect(isTombstone('{"note":"\\"op\\":\\"d\\""}')).toBe(false);
  });
});
