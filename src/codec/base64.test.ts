import { describe, expect, it } from "vitest";
import { decodeBase64, decodeBase64Bytes } from "./base64.js";

describe("decodeBase64", () => {
  it("decodes standard and URL-safe base64, padded or not, for every length", () => {
    for (let n = 0; n < 70; n++) {
      const bytes = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + n * 11) & 0xff));
      const std = bytes.toString("base64");
      const forms = [std, std.replace(/=+$/, ""), bytes.toString("base64url"), std.replace(/\+/g, "-")];
      for (const s of forms) {
        expect(decodeBase64(s), s).toEqual(bytes);
        expect(decodeBase64Bytes(Buffer.from(`"${s}"`), 1, s.length + 1), s).toEqual(bytes);
      }
    }
  });

  it("rejects characters outside the alphabets and impossible lengths", () => {
    for (const bad of ["!!", "AB=C", "A", "AAAAA", "AB\n==", "é0==", "AB==="]) {
      expect(decodeBase64(bad), bad).toBeUndefined();
      expect(decodeBase64Bytes(Buffer.from(bad), 0, Buffer.byteLength(bad)), bad).toBeUndefined();
    }
  });
});
