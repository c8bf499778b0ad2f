/**
 * The newest protocol's fields, hand-encoded from upstream's numbers
 * (newest-vectors.ts), against our codecs and `tributary convert`:
 * proto -> JSON -> proto must give the same bytes, and JSON -> proto the
 * hand-encoded ones. Needs the build for the convert half.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { beforeAll, describe, expect, it } from "vitest";
import { fromFlowJson, toFlowJson } from "../../src/codec/flow-json.js";
import { findMessageType } from "../../src/codec/registry.js";
import { NEWEST_VECTORS } from "./newest-vectors.js";
import { candidateTypes, hasUnknownFields, repoRoot } from "./vectors.js";

const dir = join(repoRoot, "test", "conformance", "vectors");
const bin = join(repoRoot, "bin", "tributary");

if (process.env.UPDATE_VECTORS) {
  mkdirSync(dir, { recursive: true });
  for (const v of NEWEST_VECTORS) {
    writeFileSync(join(dir, `${v.name}.bin`), v.bin);
    writeFileSync(join(dir, `${v.name}.json`), v.json + "\n");
  }
}

function convert(args: string[], input: Buffer | string) {
  const r = spawnSync(process.execPath, [bin, "convert", ...args], { input, cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

describe("newest-protocol vectors", () => {
  beforeAll(() => {
    if (!existsSync(join(repoRoot, "dist", "src", "cli", "convert.js"))) throw new Error("dist/ is not built: run `npx tsc -p .` first");
  });

  for (const v of NEWEST_VECTORS) {
    describe(v.name, () => {
      const schema = findMessageType(v.type)!;

      it("is stored as hand-encoded, and named for its type", () => {
        expect(Buffer.from(readFileSync(join(dir, `${v.name}.bin`))).equals(Buffer.from(v.bin))).toBe(true);
        expect(readFileSync(join(dir, `${v.name}.json`), "utf8").trim()).toBe(v.json);
        expect(candidateTypes(v.name)[0]).toBe(v.type);
      });

      it("decodes with every field known to our protos", () => {
        expect(hasUnknownFields(fromBinary(schema, v.bin))).toBe(false);
      });

      it("proto -> JSON gives the .json, and JSON -> proto the hand-encoded bytes", () => {
        const decoded = fromBinary(schema, v.bin);
        expect(JSON.parse(toFlowJson(schema, decoded))).toEqual(JSON.parse(v.json));
        expect(Buffer.from(toBinary(schema, fromFlowJson(schema, v.json))).equals(Buffer.from(v.bin))).toBe(true);
        // And through our own JSON: byte-identical.
        expect(Buffer.from(toBinary(schema, fromFlowJson(schema, toFlowJson(schema, decoded)))).equals(Buffer.from(v.bin))).toBe(true);
      });

      it("tributary convert: proto -> json -> proto round-trips byte for byte", () => {
        const json = convert(["--type", v.type, "--from", "proto", "--to", "json"], Buffer.from(v.bin));
        expect(json.stderr).toBe("");
        expect(json.status).toBe(0);
        expect(JSON.parse(json.stdout.toString())).toEqual(JSON.parse(v.json));
        const proto = convert(["--type", v.type, "--from", "json", "--to", "proto"], json.stdout);
        expect(proto.status).toBe(0);
        expect(Buffer.from(proto.stdout).equals(Buffer.from(v.bin))).toBe(true);
      });
    });
  }

  it("cover every field the newest protocol added", () => {
    const text = NEWEST_VECTORS.map((v) => v.json).join("\n");
    for (const key of [
      '"linkedCollections"', '"collectionIndex"', '"createdAt"', '"secrets"', '"isFallbackKey"', '"backfillBegin"', '"backfillComplete"',
      '"projectionConstraints"', '"sealedConfig"', '"backfillBegins"', '"backfillCompletes"', '"state":{"updated"',
    ]) {
      expect(text).toContain(key);
    }
    for (const name of ["discover", "validate", "apply", "open"]) expect(NEWEST_VECTORS.map((v) => v.name)).toContain(`newest_capture_request_${name}`);
  });
});
