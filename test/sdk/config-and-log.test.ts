import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/log.js";
import { parseConfig, redact } from "../../src/sdk/config.js";
import { mergePatch } from "../../src/sdk/state.js";

const schema = {
  type: "object",
  properties: {
    host: { type: "string" },
    password: { type: "string", secret: true },
    tunnel: { oneOf: [{ type: "object", properties: { key: { type: "string", airbyte_secret: true }, user: { type: "string" } } }] },
    port: { type: "integer", default: 5432 },
  },
  required: ["host"],
};

describe("config", () => {
  it("applies schema defaults", () => {
    expect(parseConfig(schema, '{"host":"h"}', "endpoint config")).toEqual({ host: "h", port: 5432 });
  });

  it("redacts secrets, including inside oneOf branches", () => {
    const cfg = { host: "h", password: "p4ss", tunnel: { key: "-----BEGIN", user: "u" } };
    expect(redact(schema, cfg)).toEqual({ host: "h", password: "<redacted>", tunnel: { key: "<redacted>", user: "u" } });
  });

  it("names the document, the pointer and the problem, but not the value", () => {
    expect(() => parseConfig(schema, '{"password":12345}', "endpoint config")).toThrow(
      "invalid endpoint config: /host: is required; /password: must be string",
    );
    expect(() => parseConfig(schema, "{nope", "endpoint config")).toThrow(/endpoint config is not valid JSON/);
    expect(() => parseConfig(schema, "", "endpoint config")).toThrow("endpoint config is missing");
  });
});

describe("logging", () => {
  const capture = (level: string, format = "json") => {
    const lines: string[] = [];
    return { lines, log: createLogger({ level, format, write: (l) => lines.push(l) }) };
  };

  it("writes JSON lines with level, msg and fields, above the threshold only", () => {
    const { lines, log } = capture("info");
    log.debug("hidden");
    log.with({ binding: 2 }).warn("slow", { ms: 12 });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "warn", msg: "slow", binding: 2, ms: 12 });
  });

  it("accepts Flow's level names and a text format", () => {
    const { lines, log } = capture("warning", "text");
    log.info("hidden");
    log.error("broken", { table: "t" });
    expect(lines).toEqual(['ERROR broken table="t"\n']);
  });
});

describe("merge patch", () => {
  it("follows RFC 7396", () => {
    expect(mergePatch({ a: { b: 1, c: 2 }, d: [1] }, { a: { b: null, e: 3 }, d: [2] })).toEqual({ a: { c: 2, e: 3 }, d: [2] });
    expect(mergePatch({ a: 1 }, "x")).toBe("x");
  });
});
