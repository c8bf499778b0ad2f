/**
 * Builds flow.CollectionSpec from a catalog collection: schemas, key,
 * projections (see SPECS.md for the rules) and a partition template.
 */
import { create } from "@bufbuild/protobuf";
import { CollectionSpecSchema, ProjectionSchema, type CollectionSpec, type Projection } from "../gen/flow/flow_pb.js";
import { JournalSpecSchema, LabelSetSchema, LabelSchema } from "../gen/broker/protocol/protocol_pb.js";
import { buildShape, locate, locations, type Shape } from "./schema-shape.js";
import { inferenceOf, publishedAtInference, truncationInference, typeNames } from "./inference.js";
import { joinPointer, parsePointer } from "./json-pointer.js";
import { HarnessError } from "./errors.js";

export const FLOW_DOCUMENT = "flow_document";
export const FLOW_PUBLISHED_AT = "flow_published_at";
export const FLOW_TRUNCATED = "_meta/flow_truncated";
export const UUID_PTR = "/_meta/uuid";
export const TRUNCATED_PTR = "/_meta/flow_truncated";

/** A user projection: a pointer, or a pointer marked as a logical partition. */
export type ProjectionDef = string | { location: string; partition?: boolean };

export interface CollectionDef {
  /** The schema used for writes and reads... */
  schema?: Record<string, unknown>;
  /** ...or separate write and read schemas. */
  writeSchema?: Record<string, unknown>;
  readSchema?: Record<string, unknown>;
  key: string[];
  projections?: Record<string, ProjectionDef>;
}

export interface BuiltCollection {
  spec: CollectionSpec;
  /** Shape of the schema documents are read with: projections, key, reduce. */
  readShape: Shape;
  writeShape: Shape;
  writeSchema: Record<string, unknown>;
}

const enc = new TextEncoder();

/**
 * What Flow's own schema URLs stand for in a read schema: the collection's
 * write schema (also for the relaxed form), and an inferred schema that the
 * harness does not have (anything goes).
 */
export function flowSchemaRefs(writeSchema: Record<string, unknown>): Record<string, unknown> {
  return {
    "flow://write-schema": writeSchema,
    "flow://relaxed-write-schema": writeSchema,
    "flow://inferred-schema": true,
  };
}

export function buildCollection(name: string, def: CollectionDef): BuiltCollection {
  const at = `collection ${JSON.stringify(name)}`;
  if (!/^[\p{L}\p{N}\-_.]+(\/[\p{L}\p{N}\-_.]+)*$/u.test(name)) {
    throw new HarnessError(`${at}: invalid name; use letters, digits, "-", "_", "." in "/"-separated parts`);
  }
  let writeSchema: Record<string, unknown>;
  let readSchema: Record<string, unknown> | undefined;
  if (def.schema && !def.writeSchema && !def.readSchema) {
    writeSchema = def.schema;
  } else if (!def.schema && def.writeSchema && def.readSchema) {
    writeSchema = def.writeSchema;
    readSchema = def.readSchema;
  } else {
    throw new HarnessError(`${at}: give either "schema", or both "writeSchema" and "readSchema"`);
  }
  if (!Array.isArray(def.key) || def.key.length === 0) throw new HarnessError(`${at}: "key" must be a non-empty array of JSON pointers`);

  let writeShape: Shape, readShape: Shape;
  try {
    writeShape = buildShape(writeSchema);
    readShape = readSchema ? buildShape(readSchema, flowSchemaRefs(writeSchema)) : writeShape;
  } catch (err) {
    throw new HarnessError(`${at}: schema: ${(err as Error).message}`);
  }
  if (typeNames(readShape.types).join() !== "object") {
    throw new HarnessError(`${at}: the schema must describe objects only (type "object"), got ${JSON.stringify(typeNames(readShape.types))}`);
  }

  for (const [i, ptr] of def.key.entries()) {
    let tokens: string[];
    try {
      tokens = parsePointer(ptr);
    } catch (err) {
      throw new HarnessError(`${at}: key[${i}]: ${(err as Error).message}`);
    }
    if (tokens.length === 0) throw new HarnessError(`${at}: key[${i}] may not be the document root`);
    // Flow's key rules (validation of key locations, `is_keyable_type`):
    // a declared location that must exist, of exactly one scalar type
    // (optionally null), with no reduction other than lastWriteWins.
    for (const shape of readSchema ? [readShape, writeShape] : [readShape]) {
      const { shape: s, exists } = locate(shape, tokens);
      if (exists === "IMPLICIT") {
        throw new HarnessError(`${at}: key[${i}] ${ptr} is not a declared property (only additionalProperties or patternProperties reach it); Flow cannot key on it`);
      }
      if (exists !== "MUST" && !s.hasDefault) {
        throw new HarnessError(`${at}: key[${i}] ${ptr} is not required to exist (exists ${exists}); list it in "required" of its parent objects`);
      }
      const scalar = typeNames(s.types).filter((t) => t !== "null");
      if (scalar.length !== 1 || !["boolean", "integer", "number", "string"].includes(scalar[0]!)) {
        const why = scalar.some((t) => t === "object" || t === "array") ? "objects and arrays cannot be keys" : scalar.length === 0 ? "it can only be null" : "a key location may not mix types";
        throw new HarnessError(`${at}: key[${i}] ${ptr} must have a single scalar type (boolean, integer, number or string, optionally null), has ${JSON.stringify(typeNames(s.types))}: ${why}`);
      }
      if (s.reduce !== undefined && s.reduce !== "lastWriteWins") {
        throw new HarnessError(`${at}: key[${i}] ${ptr} has reduce strategy ${JSON.stringify(s.reduce)}; a key location may only use lastWriteWins (or none)`);
      }
    }
  }

  const specs: Projection[] = [];
  let sawRoot = false;
  let sawPublishedAt = false;
  for (const [field, p] of Object.entries(def.projections ?? {})) {
    const location = typeof p === "string" ? p : p?.location;
    const partition = typeof p === "object" && p !== null && p.partition === true;
    if (typeof location !== "string") throw new HarnessError(`${at}: projection ${JSON.stringify(field)} needs a JSON pointer location`);
    if (location === "") sawRoot = true;
    if (location === "/_meta/uuid/date-time" && !partition) {
      sawPublishedAt = true;
      specs.push(create(ProjectionSchema, { ptr: UUID_PTR, field, explicit: true, inference: publishedAtInference() }));
      continue;
    }
    let tokens: string[];
    try {
      tokens = parsePointer(location);
    } catch (err) {
      throw new HarnessError(`${at}: projection ${JSON.stringify(field)}: ${(err as Error).message}`);
    }
    const { shape, exists } = locate(readShape, tokens);
    if (exists === "CANNOT") throw new HarnessError(`${at}: projection ${JSON.stringify(field)}: location ${location} cannot exist in the schema`);
    if (partition) {
      const scalar = typeNames(shape.types).filter((t) => t !== "null");
      if (exists !== "MUST" || scalar.length !== 1 || !["boolean", "integer", "string"].includes(scalar[0]!)) {
        throw new HarnessError(`${at}: partition ${JSON.stringify(field)} at ${location} must be a required boolean, integer or string`);
      }
    }
    specs.push(
      create(ProjectionSchema, {
        ptr: location,
        field,
        explicit: true,
        isPrimaryKey: def.key.includes(location),
        isPartitionKey: partition,
        inference: inferenceOf(shape, exists),
      }),
    );
  }
  if (!sawRoot) {
    specs.push(create(ProjectionSchema, { ptr: "", field: FLOW_DOCUMENT, inference: inferenceOf(readShape, "MUST") }));
  }
  if (!sawPublishedAt) {
    specs.push(create(ProjectionSchema, { ptr: UUID_PTR, field: FLOW_PUBLISHED_AT, inference: publishedAtInference() }));
  }
  specs.push(create(ProjectionSchema, { ptr: TRUNCATED_PTR, field: FLOW_TRUNCATED, inference: truncationInference() }));
  for (const ptr of def.key) {
    const { shape, exists } = locate(readShape, parsePointer(ptr));
    specs.push(create(ProjectionSchema, { ptr, field: ptr.slice(1), isPrimaryKey: true, inference: inferenceOf(shape, exists) }));
  }
  for (const loc of locations(readShape)) {
    const ptr = joinPointer(loc.tokens);
    const field = ptr.slice(1);
    if (field === FLOW_DOCUMENT) continue;
    specs.push(create(ProjectionSchema, { ptr, field, isPrimaryKey: def.key.includes(ptr), inference: inferenceOf(loc.shape, loc.exists) }));
  }
  // Stable sort keeps the precedence explicit > key > inferred for equal fields.
  specs.sort((a, b) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0));
  const projections: Projection[] = [];
  for (const p of specs) {
    const prev = projections[projections.length - 1];
    if (prev && prev.field === p.field) {
      if (prev.ptr !== p.ptr && !p.explicit) {
        throw new HarnessError(`${at}: projection ${JSON.stringify(p.field)} maps to ${prev.ptr || '""'} but that field is the canonical name of ${p.ptr}`);
      }
      continue;
    }
    projections.push(p);
  }

  const spec = create(CollectionSpecSchema, {
    name,
    key: [...def.key],
    uuidPtr: UUID_PTR,
    partitionFields: projections.filter((p) => p.isPartitionKey).map((p) => p.field),
    projections,
    ackTemplateJson: enc.encode(JSON.stringify({ _meta: { uuid: "DocUUIDPlaceholder-329Bb50aa48EAa9ef", ack: true } })),
    writeSchemaJson: enc.encode(JSON.stringify(writeSchema)),
    readSchemaJson: readSchema ? enc.encode(JSON.stringify(readSchema)) : new Uint8Array(),
    partitionTemplate: create(JournalSpecSchema, {
      name: `${name}/0000000000000000`,
      replication: 1,
      labels: create(LabelSetSchema, {
        labels: [
          create(LabelSchema, { name: "app.gazette.dev/managed-by", value: "estuary.dev/flow" }),
          create(LabelSchema, { name: "content-type", value: "application/x-ndjson" }),
          create(LabelSchema, { name: "estuary.dev/collection", value: name }),
        ],
      }),
    }),
  });
  return { spec, readShape, writeShape, writeSchema };
}
