/**
 * The per-column converters (converterFor) write exactly what toJson writes,
 * for every form the drivers give: their short paths are only shortcuts.
 */
import { describe, expect, it } from "vitest";
import { converterFor, toJson, type Kind, type ValueContext } from "./values.js";
import { parseZone } from "./timezone.js";

const ZONES: ValueContext[] = [{ zone: { offsetMinutes: 0 } }, { zone: parseZone("+05:30")! }, { zone: parseZone("America/New_York")! }];

function same(kind: Kind, values: unknown[], ctx: ValueContext = ZONES[0]!): void {
  const conv = converterFor(kind, ctx);
  const outcome = (f: () => string) => {
    try {
      return f();
    } catch (err) {
      return `throws ${(err as Error).message}`;
    }
  };
  const differ: string[] = [];
  for (const v of values) {
    const want = outcome(() => toJson(kind, v, ctx));
    const got = outcome(() => conv(v));
    if (got !== want) differ.push(`${kind} ${String(v)}: ${got} instead of ${want}`);
  }
  expect(differ).toEqual([]);
}

/** A small deterministic generator, so a failure names a value that fails again. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("converterFor", () => {
  it("writes DOUBLE text as printing its number would", () => {
    const rand = rng(7);
    const texts: string[] = [
      "0", "-0", "0.0", "1", "-1", "8.22", "8.20", "08.2", "100", "1e20", "1E20", "1.5e-7", "0.000001", "0.0000001", "-0.000001",
      "0.1", ".5", "5.", "123456789012345", "1234567890123456", "12345678901234567", "0.30000000000000004", "1.7976931348623157e308",
      "5e-324", "9007199254740993", "-123.456", "1.0", "abc", "", "-", "NaN", "Infinity", "+1", " 1", "1 ", "0x10",
    ];
    for (let i = 0; i < 20_000; i++) {
      // Random doubles as JavaScript prints them, and random decimal texts of up to 17 digits (as a server may print).
      const x = (rand() - 0.5) * 10 ** Math.floor(rand() * 40 - 20);
      texts.push(String(x), String(Math.fround(x)), x.toFixed(Math.floor(rand() * 10)), x.toPrecision(1 + Math.floor(rand() * 17)));
      let digits = "";
      for (let d = 1 + Math.floor(rand() * 17); d > 0; d--) digits += String(Math.floor(rand() * 10));
      const dot = Math.floor(rand() * (digits.length + 1));
      texts.push(digits.slice(0, dot) + (dot < digits.length ? "." + digits.slice(dot) : ""));
      texts.push("-0." + "0".repeat(Math.floor(rand() * 8)) + digits);
    }
    same("double", texts);
    same("double", [0, -0, 1.5, 8.22, 1e21, 1e-7, Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity]);
  });

  it("writes strings, integers, dates and the rest as toJson does", () => {
    same("int", [0, -1, 2 ** 53 - 1, 2 ** 53, 1.5, "18446744073709551615", "-9223372036854775808", "12a", "", 10n]);
    same("text", ["", "plain", 'q"uote', "back\\slash", "tab\there", "\u0000", "\u001f", "héllo ✓ 😀", "\ud800", "a\udc00b", "\u2028", Buffer.from("buf")]);
    same("decimal", ["-0.000000000000000000000000000001", "12345678901234567890123456789012345.123456789012345678901234567890"]);
    same("time", ["-838:59:59.000000", "12:00:00.5"]);
    same("set", ["", "x,z"]);
    same("json", ['{"a": [1, 2.50]}', "[]", Buffer.from("{}")]);
    same("date", ["0000-00-00", "2020-00-15", "2020-01-00", "2024-02-29", "0001-01-01", "9999-12-31"]);
    same("timestamp", ["2038-01-19 03:14:07.999", "0000-00-00 00:00:00", "1970-01-01 00:00:00"]);
    same("enum", ["", "b,c", undefined]);
    same("year", [0, 1900, 2155, "2024"]);
  });

  it("writes DATETIMEs as toJson does, in runs of one minute and across minutes, in every zone", () => {
    const values = [
      "2024-03-10 02:30:00.123456", "2024-03-10 02:30:59", "2024-03-10 02:31:00", "2024-03-10 02:30:01.5", "2024-11-03 01:30:00",
      "2024-11-03 01:30:00.000001", "0000-00-00 00:00:00", "2024-00-10 00:00:00", "1999-12-31 23:59:59.999999", "1999-12-31 23:59:58",
      "1970-01-01 00:00:00", "2024-02-30 10:00:00", "2024-02-30 10:00:01", "2024-01-01 00:00:00.", "2024-01-01 00:00:0x", "2024-01-01 00:00",
      "2024-01-01T00:00:00", "0099-05-05 05:05:05", "9999-12-31 23:59:59.999999",
    ];
    for (const ctx of ZONES) {
      same("datetime", values, ctx);
      same("datetime", [...values].reverse(), ctx);
      const run: string[] = [];
      for (let s = 0; s < 150; s++) run.push(`2024-01-01 00:${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}.${s}`);
      same("datetime", run, ctx);
    }
  });
});
