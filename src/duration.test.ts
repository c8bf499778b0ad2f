import { describe, expect, it } from "vitest";
import { parseDurationMs } from "./duration.js";

describe("parseDurationMs", () => {
  it("reads bare seconds, single units and combinations", () => {
    expect(parseDurationMs("30")).toBe(30_000);
    expect(parseDurationMs("0.5")).toBe(500);
    expect(parseDurationMs("500ms")).toBe(500);
    expect(parseDurationMs(" 10s ")).toBe(10_000);
    expect(parseDurationMs("3m")).toBe(180_000);
    expect(parseDurationMs("1h30m")).toBe(5_400_000);
    expect(parseDurationMs("1m500ms")).toBe(60_500);
  });

  it("refuses what is not a duration", () => {
    for (const bad of ["", "  ", "s", "10x", "-5s", "10s garbage", "1e3", "ten"]) {
      expect(parseDurationMs(bad), bad).toBeUndefined();
    }
  });
});
