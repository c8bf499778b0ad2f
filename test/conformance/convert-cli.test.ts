/**
 * `tributary convert` as a real process: every Flow vector through
 * proto -> JSON and JSON -> proto -> JSON. Needs the build (`npm test` runs
 * `tsc` first).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadVectors, repoRoot } from "./vectors.js";

const bin = join(repoRoot, "bin", "tributary");
const vectors = loadVectors();

function convert(args: string[], input: Buffer | string) {
  const r = spawnSync(process.execPath, [bin, "convert", ...args], { input, cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

describe("tributary convert", () => {
  beforeAll(() => {
    if (!existsSync(join(repoRoot, "dist", "src", "cli", "convert.js"))) {
      throw new Error("dist/ is not built: run `npm run build` (npm test does this) before these tests");
    }
  });

  for (const v of vectors) {
    const type = v.schema.typeName;
    it(`${v.name}: proto -> json equals the .json`, () => {
      const r = convert(["--type", type, "--from", "proto", "--to", "json"], v.bin);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const out = r.stdout.toString();
      expect(out.endsWith("\n")).toBe(true);
      expect(out.indexOf("\n")).toBe(out.length - 1); // compact: one line
      expect(JSON.parse(out)).toEqual(JSON.parse(v.json));
    });

    it(`${v.name}: json -> proto -> json round-trips`, () => {
      const proto = convert(["--type", type, "--from", "json", "--to", "proto"], v.json);
      expect(proto.stderr).toBe("");
      expect(proto.status).toBe(0);
      const back = convert(["--type", type, "--from", "proto", "--to", "json", "--pretty"], proto.stdout);
      expect(back.status).toBe(0);
      expect(back.stdout.toString().split("\n").length).toBeGreaterThan(3); // indented
      expect(JSON.parse(back.stdout.toString())).toEqual(JSON.parse(v.json));
    });
  }

  it("keeps big integers and key order of raw values digit for digit", () => {
    const doc = '{"z":12345678901234567890,"a":1.000000000000000000001,"s":"\\u00e9"}';
    const proto = convert(["--type", "capture.Response", "--from", "json", "--to", "proto"], `{"captured":{"binding":1,"doc":${doc}}}`);
    expect(proto.status).toBe(0);
    const json = convert(["--type", "capture.Response", "--from", "proto", "--to", "json"], proto.stdout);
    expect(json.stdout.toString()).toBe(`{"captured":{"binding":1,"doc":${doc}}}\n`);
    const pretty = convert(["--type", "capture.Response", "--from", "proto", "--to", "json", "--pretty"], proto.stdout);
    expect(pretty.stdout.toString()).toContain('"z": 12345678901234567890');
    expect(pretty.stdout.toString()).toContain('"a": 1.000000000000000000001');
  });

  it("lists the valid types for an unknown one", () => {
    const r = convert(["--type", "capture.Nope", "--from", "proto", "--to", "json"], "");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('unknown message type "capture.Nope"');
    expect(r.stderr).toContain("materialize.Request.Store");
    expect(r.stderr).toContain("consumer.Checkpoint");
  });

  it("names the type when the input does not decode", () => {
    const j = convert(["--type", "flow.CollectionSpec", "--from", "json", "--to", "proto"], '{"name": ');
    expect(j.status).toBe(1);
    expect(j.stderr).toMatch(/cannot decode flow\.CollectionSpec from JSON input/);
    const p = convert(["--type", "materialize.Request", "--from", "proto", "--to", "json"], Buffer.from([0x3a, 0x09, 0x01]));
    expect(p.status).toBe(1);
    expect(p.stderr).toMatch(/cannot decode materialize\.Request from protobuf input/);
  });

  it("rejects bad options", () => {
    expect(convert(["--type", "flow.RangeSpec", "--from", "yaml", "--to", "json"], "").stderr).toMatch(/--from must be "proto" or "json", not "yaml"/);
    expect(convert(["--from", "json", "--to", "json"], "").stderr).toMatch(/--type is required/);
    expect(convert(["--type", "flow.RangeSpec", "--from", "json", "--to", "json", "--bogus"], "").stderr).toMatch(/unknown option --bogus/);
  });
});
