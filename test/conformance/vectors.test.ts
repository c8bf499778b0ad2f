/**
 * Flow's own protobuf / JSON pairs: our codecs must read and write both
 * exactly as Flow does.
 */
import { equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { CheckpointSchema } from "../../src/gen/consumer/protocol/protocol_pb.js";
import { ResponseSchema as MaterializeResponseSchema } from "../../src/gen/materialize/materialize_pb.js";
import { describe, expect, it } from "vitest";
import { fromFlowJson, toFlowJson } from "../../src/codec/flow-json.js";
import { messageCodec } from "../../src/codec/wire.js";
import { bundledVectorsDir, candidateTypes, hasUnknownFields, loadVectors, repoRoot, vectorType } from "./vectors.js";

const vectors = loadVectors();

// prost omits the key of a map entry whose key is "" and protobuf-es writes
// it, so these two re-encode a few bytes longer (see the vectors README).
const NOT_BYTE_IDENTICAL = new Set(["materialize_request", "materialization_spec"]);
const BYTE_IDENTICAL = ["capture_request", "capture_response", "materialize_response", "capture_spec", "collection_spec"];

describe(`Flow vectors in ${bundledVectorsDir}`, () => {
  it("has vector pairs to check", () => {
    expect(vectors.length).toBeGreaterThan(0);
    for (const name of BYTE_IDENTICAL) expect(vectors.map((v) => v.name)).toContain(name);
  });

  for (const v of vectors) {
    describe(`${v.name} (${v.schema.typeName})`, () => {
      const decoded = fromBinary(v.schema, v.bin);

      it("decodes with no unknown fields", () => {
        expect(hasUnknownFields(decoded)).toBe(false);
      });

      it(".bin written as Flow JSON equals .json", () => {
        const ours = toFlowJson(v.schema, decoded);
        expect(ours).not.toContain("\n");
        expect(JSON.parse(ours)).toEqual(JSON.parse(v.json));
      });

      it(".json parsed and encoded decodes to the .bin message", () => {
        const parsed = fromFlowJson(v.schema, v.json);
        expect(equals(v.schema, parsed, decoded)).toBe(true);
        const reencoded = toBinary(v.schema, parsed);
        expect(equals(v.schema, fromBinary(v.schema, reencoded), decoded)).toBe(true);
      });

      it("survives both wire codecs", () => {
        for (const wire of ["proto", "json"] as const) {
          const codec = messageCodec(v.schema, wire);
          expect(equals(v.schema, codec.decode(codec.encode(decoded)), decoded)).toBe(true);
        }
      });

      if (!NOT_BYTE_IDENTICAL.has(v.name)) {
        it("re-encodes byte-identically, from .bin and from .json", () => {
          expect(Buffer.from(toBinary(v.schema, decoded)).equals(v.bin)).toBe(true);
          expect(Buffer.from(toBinary(v.schema, fromFlowJson(v.schema, v.json))).equals(v.bin)).toBe(true);
        });
      }
    });
  }
});

describe("vector naming convention", () => {
  it("maps names to types", () => {
    expect(candidateTypes("capture_request")[0]).toBe("capture.Request");
    expect(candidateTypes("collection_spec")[0]).toBe("flow.CollectionSpec");
    expect(candidateTypes("consumer_checkpoint")).toContain("consumer.Checkpoint");
    expect(candidateTypes("range_spec")).toContain("flow.RangeSpec");
  });

  it("falls back to the registered type whose decode matches the JSON", () => {
    for (const v of vectors) {
      expect(vectorType(`renamed_${v.name}_x`, v.bin, v.json).typeName).toBe(v.schema.typeName);
    }
    expect(() => vectorType("nothing_known", Buffer.from([0xff]), "{}")).toThrow(/no registered message type/);
  });
});

describe("vector discovery", () => {
  it("reads the vectors the repository carries", () => {
    expect(relative(repoRoot, bundledVectorsDir).startsWith("..")).toBe(false);
    expect(loadVectors().map((v) => v.name)).toEqual(expect.arrayContaining(BYTE_IDENTICAL));
  });

  it("picks up new pairs from a folder, typed by name or by content", () => {
    const dir = mkdtempSync(join(tmpdir(), "tributary-vectors-"));
    try {
      // A consumer.Checkpoint cut out of the materialize_response vector.
      const response = vectors.find((v) => v.name === "materialize_response")!;
      const cp = fromBinary(MaterializeResponseSchema, response.bin).opened!.runtimeCheckpoint!;
      const cpJson = JSON.stringify(JSON.parse(response.json).opened.runtimeCheckpoint);
      const cpBin = toBinary(CheckpointSchema, cp);
      writeFileSync(join(dir, "consumer_checkpoint.bin"), cpBin);
      writeFileSync(join(dir, "consumer_checkpoint.json"), cpJson);
      writeFileSync(join(dir, "mystery.bin"), cpBin);
      writeFileSync(join(dir, "mystery.json"), cpJson);
      writeFileSync(join(dir, "lonely.bin"), cpBin); // no .json: not a vector
      const found = loadVectors(dir);
      expect(found.map((v) => [v.name, v.schema.typeName])).toEqual([
        ["consumer_checkpoint", "consumer.Checkpoint"],
        ["mystery", "consumer.Checkpoint"],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
