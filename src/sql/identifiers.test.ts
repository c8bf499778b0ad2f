import { describe, expect, it } from "vitest";
import { foldFields, foldIdentifier, isSimpleIdentifier, quoteIdentifier, quotePath } from "./identifiers.js";

const reserved = new Set(["select", "integer", "user"]);

describe("identifiers", () => {
  it("leaves plain lower-case names bare and quotes everything else", () => {
    expect(quoteIdentifier("orders_2", reserved)).toBe("orders_2");
    expect(quoteIdentifier("_x", reserved)).toBe("_x");
    expect(quoteIdentifier("select", reserved)).toBe('"select"');
    expect(quoteIdentifier("userId", reserved)).toBe('"userId"');
    expect(quoteIdentifier("two words", reserved)).toBe('"two words"');
    expect(quoteIdentifier('say "hi"', reserved)).toBe('"say ""hi"""');
    expect(quoteIdentifier("1st", reserved)).toBe('"1st"');
    expect(quoteIdentifier("a$b", reserved)).toBe('"a$b"');
    expect(quoteIdentifier("🐟", reserved)).toBe('"🐟"');
    expect(isSimpleIdentifier("integer", reserved)).toBe(false);
    expect(quotePath(["public", "User"], reserved)).toBe('public."User"');
  });

  it("folds to a byte limit without splitting a character", () => {
    expect(foldIdentifier("abc", 63)).toBe("abc");
    const long = "a".repeat(62) + "éz"; // é is two bytes: 62 + 2 > 63
    expect(foldIdentifier(long, 63)).toBe("a".repeat(62));
    expect(Buffer.byteLength(foldIdentifier("🐟".repeat(20), 63))).toBe(60);
    expect(foldIdentifier("x".repeat(100), 0)).toHaveLength(100);
  });

  it("reports fields that fold to the same name", () => {
    const a = "p".repeat(63) + "_one";
    const b = "p".repeat(63) + "_two";
    const { folded, collisions } = foldFields([a, b, "short"], 63);
    expect(folded.get(a)).toBe("p".repeat(63));
    expect(collisions).toEqual([[a, b, "p".repeat(63)]]);
  });
});
