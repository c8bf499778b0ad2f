import { describe, expect, it } from "vitest";
import { columnKey, foldName, foldNames, limitText, quoteName, quoteNames } from "./names.js";

const pg = { reserved: new Set(["select"]), maxIdentifierBytes: 63 };
const my = {
  reserved: new Set<string>(),
  maxIdentifierBytes: 0,
  maxIdentifierChars: 64,
  quoteIdentifier: (n: string) => "`" + n.replace(/`/g, "``") + "`",
  columnKey: (n: string) => n.toLowerCase(),
};

describe("names per dialect", () => {
  it("cuts by bytes by default and by characters where the dialect counts characters", () => {
    const fish = "é".repeat(40);
    expect(Buffer.byteLength(foldName(pg, fish))).toBe(62);
    expect(foldName(my, fish)).toBe(fish);
    expect([...foldName(my, "🐟".repeat(70))]).toHaveLength(64);
    expect(limitText(pg)).toBe("63 bytes");
    expect(limitText(my)).toBe("64 characters");
  });

  it("quotes with the dialect's own quoting, else double quotes when needed", () => {
    expect(quoteNames(pg, ["public", "select"])).toBe('public."select"');
    expect(quoteNames(my, ["db", "a`b"])).toBe("`db`.`a``b`");
    expect(quoteName(my, "plain")).toBe("`plain`");
  });

  it("reports fields that land on one column after cutting or under the dialect's case rules", () => {
    expect(foldNames(pg, ["Name", "name"]).collisions).toEqual([]);
    expect(foldNames(my, ["Name", "name"]).collisions).toEqual([["Name", "name", "name"]]);
    const long = "x".repeat(64);
    expect(foldNames(my, [long + "a", long + "b"]).collisions).toEqual([[long + "a", long + "b", long]]);
    expect(columnKey(pg, "Name")).toBe("Name");
    expect(columnKey(my, "Name")).toBe("name");
  });
});
