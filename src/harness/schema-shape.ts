/**
 * A static "shape" of a JSON schema: what every location of a valid document
 * may look like. Collection projections, their inference, and the reduce
 * strategies of the combiner are all read from it.
 *
 * Handles the schema keywords collection schemas use in practice: type,
 * properties/required, additionalProperties, patternProperties, items /
 * prefixItems (tuples), $ref into the same document ($defs, definitions, or
 * any local pointer), allOf (intersection), anyOf/oneOf (union), const/enum,
 * string format/contentEncoding/contentMediaType/maxLength, numeric bounds,
 * title/description/default/secret and Flow's `reduce` annotation.
 */
import { getAt } from "./json-pointer.js";

export const ALL_TYPES = ["array", "boolean", "integer", "null", "number", "object", "string"] as const;
export type TypeName = (typeof ALL_TYPES)[number];

export interface PropertyShape {
  shape: Shape;
  required: boolean;
}

export interface Shape {
  types: Set<TypeName>;
  title?: string;
  description?: string;
  default?: unknown;
  hasDefault: boolean;
  secret: boolean;
  format?: string;
  contentEncoding?: string;
  contentMediaType?: string;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems: number;
  maxItems?: number;
  enum?: unknown[];
  /** Flow's reduce strategy name (e.g. "merge", "sum"), if annotated. */
  reduce?: string;
  properties: Map<string, PropertyShape>;
  /** Shapes of properties matched by patternProperties. */
  patterns: { re: RegExp; shape: Shape }[];
  /** Shape of other properties; undefined = anything goes (implicit). `false` schema = none allowed. */
  additional?: Shape;
  additionalForbidden: boolean;
  tuple: Shape[];
  items?: Shape;
}

function anything(): Shape {
  return {
    types: new Set(ALL_TYPES),
    hasDefault: false,
    secret: false,
    minItems: 0,
    properties: new Map(),
    patterns: [],
    additionalForbidden: false,
    tuple: [],
  };
}

function nothing(): Shape {
  const s = anything();
  s.types = new Set();
  return s;
}

function typeOfValue(v: unknown): TypeName {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "boolean") return "boolean";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  if (typeof v === "string") return "string";
  return "object";
}

function normalizeTypes(names: unknown): Set<TypeName> {
  const list = Array.isArray(names) ? names : [names];
  const out = new Set<TypeName>();
  for (const n of list) {
    if (typeof n !== "string" || !(ALL_TYPES as readonly string[]).includes(n)) {
      throw new Error(`schema "type" has an unknown type ${JSON.stringify(n)}`);
    }
    out.add(n as TypeName);
    if (n === "number") out.add("integer"); // every integer is a number
  }
  return out;
}

function intersectSets<T>(a: Set<T>, b: Set<T>): Set<T> {
  return new Set([...a].filter((x) => b.has(x)));
}

/** Intersection of two shapes: a document must satisfy both (allOf). */
export function intersect(a: Shape, b: Shape): Shape {
  const out: Shape = {
    ...a,
    types: intersectSets(a.types, b.types),
    title: a.title ?? b.title,
    description: a.description ?? b.description,
    hasDefault: a.hasDefault || b.hasDefault,
    default: a.hasDefault ? a.default : b.default,
    secret: a.secret || b.secret,
    format: a.format ?? b.format,
    contentEncoding: a.contentEncoding ?? b.contentEncoding,
    contentMediaType: a.contentMediaType ?? b.contentMediaType,
    maxLength: minDefined(a.maxLength, b.maxLength),
    minimum: maxDefined(a.minimum, b.minimum),
    maximum: minDefined(a.maximum, b.maximum),
    minItems: Math.max(a.minItems, b.minItems),
    maxItems: minDefined(a.maxItems, b.maxItems),
    enum: a.enum && b.enum ? a.enum.filter((x) => b.enum!.some((y) => JSON.stringify(y) === JSON.stringify(x))) : (a.enum ?? b.enum),
    reduce: a.reduce ?? b.reduce,
    properties: new Map(a.properties),
    patterns: [...a.patterns, ...b.patterns],
    additional: a.additional && b.additional ? intersect(a.additional, b.additional) : (a.additional ?? b.additional),
    additionalForbidden: a.additionalForbidden || b.additionalForbidden,
    tuple: [],
    items: a.items && b.items ? intersect(a.items, b.items) : (a.items ?? b.items),
  };
  for (const [k, p] of b.properties) {
    const prev = out.properties.get(k);
    out.properties.set(k, prev ? { shape: intersect(prev.shape, p.shape), required: prev.required || p.required } : p);
  }
  const n = Math.max(a.tuple.length, b.tuple.length);
  for (let i = 0; i < n; i++) {
    const l = a.tuple[i], r = b.tuple[i];
    out.tuple.push(l && r ? intersect(l, r) : (l ?? r)!);
  }
  return out;
}

/** Union of two shapes: a document satisfies one or the other (anyOf/oneOf). */
export function union(a: Shape, b: Shape): Shape {
  if (a.types.size === 0) return b;
  if (b.types.size === 0) return a;
  const out: Shape = {
    types: new Set([...a.types, ...b.types]),
    title: a.title === b.title ? a.title : undefined,
    description: a.description === b.description ? a.description : undefined,
    hasDefault: a.hasDefault && b.hasDefault && JSON.stringify(a.default) === JSON.stringify(b.default),
    default: a.default,
    secret: a.secret || b.secret,
    format: a.format === b.format ? a.format : onlyIfOtherHasNo(a, b, "string", a.format, b.format),
    contentEncoding: a.contentEncoding === b.contentEncoding ? a.contentEncoding : undefined,
    contentMediaType: a.contentMediaType === b.contentMediaType ? a.contentMediaType : undefined,
    maxLength: a.maxLength !== undefined && b.maxLength !== undefined ? Math.max(a.maxLength, b.maxLength) : onlyIfOtherHasNo(a, b, "string", a.maxLength, b.maxLength),
    minimum: a.minimum !== undefined && b.minimum !== undefined ? Math.min(a.minimum, b.minimum) : undefined,
    maximum: a.maximum !== undefined && b.maximum !== undefined ? Math.max(a.maximum, b.maximum) : undefined,
    minItems: Math.min(a.minItems, b.minItems),
    maxItems: a.maxItems !== undefined && b.maxItems !== undefined ? Math.max(a.maxItems, b.maxItems) : undefined,
    enum: a.enum && b.enum ? [...a.enum, ...b.enum] : undefined,
    reduce: a.reduce === b.reduce ? a.reduce : (a.reduce ?? b.reduce),
    properties: new Map(),
    patterns: [...a.patterns, ...b.patterns],
    additional: a.additional && b.additional ? union(a.additional, b.additional) : undefined,
    additionalForbidden: a.additionalForbidden && b.additionalForbidden,
    tuple: [],
    items: a.items && b.items ? union(a.items, b.items) : undefined,
  };
  const keys = new Set([...a.properties.keys(), ...b.properties.keys()]);
  for (const k of keys) {
    const l = a.properties.get(k), r = b.properties.get(k);
    const ls = l?.shape ?? (a.types.has("object") ? (a.additional ?? anything()) : nothing());
    const rs = r?.shape ?? (b.types.has("object") ? (b.additional ?? anything()) : nothing());
    // Required only when every branch that can be an object requires it.
    const required = (l?.required ?? !a.types.has("object")) && (r?.required ?? !b.types.has("object"));
    out.properties.set(k, { shape: union(ls, rs), required });
  }
  const n = Math.max(a.tuple.length, b.tuple.length);
  for (let i = 0; i < n; i++) {
    const l = a.tuple[i] ?? a.items ?? anything(), r = b.tuple[i] ?? b.items ?? anything();
    out.tuple.push(union(l, r));
  }
  return out;
}

// A keyword from one branch survives a union when the other branch cannot be of that type at all.
function onlyIfOtherHasNo<T>(a: Shape, b: Shape, type: TypeName, av: T | undefined, bv: T | undefined): T | undefined {
  if (av !== undefined && !b.types.has(type)) return av;
  if (bv !== undefined && !a.types.has(type)) return bv;
  return undefined;
}

function minDefined(a?: number, b?: number) {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}
function maxDefined(a?: number, b?: number) {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}

/**
 * Builds the shape of `root`, resolving local $refs against it and absolute
 * ones against `external` (e.g. Flow's `flow://write-schema`).
 */
export function buildShape(root: unknown, external: Record<string, unknown> = {}): Shape {
  const building = new Map<unknown, Shape>();

  const externalShapes = new Map<string, Shape>();
  // An absolute reference: the shape of another document (its own local refs resolve within it).
  const externalShape = (ref: string): Shape | undefined => {
    const hash = ref.indexOf("#");
    const base = hash < 0 ? ref : ref.slice(0, hash);
    if (base === "") return undefined;
    if (!(base in external)) {
      throw new Error(`schema $ref ${JSON.stringify(ref)} is not local; only "#..." references and ${Object.keys(external).join(", ") || "no external schemas"} are supported`);
    }
    if (hash >= 0 && ref.length > hash + 1) throw new Error(`schema $ref ${JSON.stringify(ref)}: fragments of external schemas are not supported`);
    let shape = externalShapes.get(base);
    if (!shape) {
      shape = buildShape(external[base], {});
      externalShapes.set(base, shape);
    }
    return shape;
  };

  const resolveRef = (ref: string): unknown => {
    let target: unknown;
    const frag = decodeURIComponent(ref.slice(1));
    if (frag === "" || frag.startsWith("/")) {
      target = getAt(root, frag);
    } else {
      // An anchor: find a subschema with a matching $anchor.
      target = findAnchor(root, frag);
    }
    if (target === undefined) throw new Error(`schema $ref ${JSON.stringify(ref)} does not resolve`);
    return target;
  };

  const walk = (schema: unknown, depth: number): Shape => {
    if (depth > 64) return anything(); // recursive schemas: stop describing deeper levels
    if (schema === true || schema === undefined) return anything();
    if (schema === false) return nothing();
    if (schema === null || typeof schema !== "object" || Array.isArray(schema)) {
      throw new Error(`schema must be an object or boolean, got ${JSON.stringify(schema)}`);
    }
    const cached = building.get(schema);
    if (cached && depth > 32) return cached;
    const s = schema as Record<string, any>;
    let shape = anything();

    if (s.type !== undefined) shape.types = normalizeTypes(s.type);
    if ("const" in s) {
      shape.types = intersectSets(shape.types, widen(typeOfValue(s.const)));
      shape.enum = [s.const];
    }
    if (Array.isArray(s.enum)) {
      shape.types = intersectSets(shape.types, new Set(s.enum.flatMap((v: unknown) => [...widen(typeOfValue(v))])));
      shape.enum = s.enum;
    }
    if (typeof s.title === "string") shape.title = s.title;
    if (typeof s.description === "string") shape.description = s.description;
    if ("default" in s) {
      shape.hasDefault = true;
      shape.default = s.default;
    }
    if (s.secret === true || s.airbyte_secret === true) shape.secret = true;
    if (typeof s.format === "string") shape.format = s.format;
    if (typeof s.contentEncoding === "string") shape.contentEncoding = s.contentEncoding;
    if (typeof s.contentMediaType === "string") shape.contentMediaType = s.contentMediaType;
    if (typeof s.maxLength === "number") shape.maxLength = s.maxLength;
    if (typeof s.minimum === "number") shape.minimum = s.minimum;
    if (typeof s.maximum === "number") shape.maximum = s.maximum;
    if (typeof s.minItems === "number") shape.minItems = s.minItems;
    if (typeof s.maxItems === "number") shape.maxItems = s.maxItems;
    if (s.reduce && typeof s.reduce === "object" && typeof s.reduce.strategy === "string") shape.reduce = s.reduce.strategy;

    const required = new Set<string>(Array.isArray(s.required) ? s.required : []);
    if (s.properties && typeof s.properties === "object") {
      for (const [k, sub] of Object.entries(s.properties)) {
        shape.properties.set(k, { shape: walk(sub, depth + 1), required: required.has(k) });
      }
    }
    for (const k of required) {
      if (!shape.properties.has(k)) shape.properties.set(k, { shape: anything(), required: true });
    }
    if (s.patternProperties && typeof s.patternProperties === "object") {
      for (const [re, sub] of Object.entries(s.patternProperties)) {
        shape.patterns.push({ re: new RegExp(re, "u"), shape: walk(sub, depth + 1) });
      }
    }
    if (s.additionalProperties === false) shape.additionalForbidden = true;
    else if (s.additionalProperties !== undefined && s.additionalProperties !== true) shape.additional = walk(s.additionalProperties, depth + 1);

    if (Array.isArray(s.prefixItems)) {
      shape.tuple = s.prefixItems.map((x: unknown) => walk(x, depth + 1));
      if (s.items !== undefined) shape.items = walk(s.items, depth + 1);
    } else if (Array.isArray(s.items)) {
      shape.tuple = s.items.map((x: unknown) => walk(x, depth + 1));
      if (s.additionalItems !== undefined) shape.items = walk(s.additionalItems, depth + 1);
    } else if (s.items !== undefined) {
      shape.items = walk(s.items, depth + 1);
    }

    building.set(schema, shape);
    if (typeof s.$ref === "string") shape = intersect(shape, externalShape(s.$ref) ?? walk(resolveRef(s.$ref), depth + 1));
    if (Array.isArray(s.allOf)) for (const sub of s.allOf) shape = intersect(shape, walk(sub, depth + 1));
    for (const kw of ["anyOf", "oneOf"]) {
      if (Array.isArray(s[kw]) && s[kw].length > 0) {
        let u = nothing();
        for (const sub of s[kw]) u = union(u, walk(sub, depth + 1));
        shape = intersect(shape, u);
      }
    }
    return shape;
  };
  return walk(root, 0);
}

function widen(t: TypeName): Set<TypeName> {
  return t === "integer" ? new Set<TypeName>(["integer", "number"]) : new Set<TypeName>([t]);
}

function findAnchor(node: unknown, anchor: string): unknown {
  if (node === null || typeof node !== "object") return undefined;
  if (!Array.isArray(node) && (node as any).$anchor === anchor) return node;
  for (const v of Object.values(node as object)) {
    const hit = findAnchor(v, anchor);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/** How surely a location exists in a valid document (flow.Inference.Exists). */
export type Exists = "MUST" | "MAY" | "IMPLICIT" | "CANNOT";

/** The shape of a child property of `shape`, and whether it is declared. */
export function childShape(shape: Shape, prop: string): { shape: Shape; declared: boolean; required: boolean; forbidden: boolean } {
  const p = shape.properties.get(prop);
  if (p) return { shape: p.shape, declared: true, required: p.required, forbidden: p.shape.types.size === 0 };
  for (const { re, shape: s } of shape.patterns) if (re.test(prop)) return { shape: s, declared: false, required: false, forbidden: s.types.size === 0 };
  if (shape.additionalForbidden) return { shape: nothing(), declared: false, required: false, forbidden: true };
  return { shape: shape.additional ?? anything(), declared: false, required: false, forbidden: false };
}

/** The shape of array item `index` (or of any item, for "-"). */
export function itemShape(shape: Shape, index: number | undefined): Shape {
  if (index !== undefined && shape.tuple[index]) return shape.tuple[index]!;
  return shape.items ?? anything();
}

/** Locates a pointer within a shape: the shape there and whether it must exist. */
export function locate(root: Shape, tokens: string[]): { shape: Shape; exists: Exists } {
  let shape = root;
  let exists: Exists = "MUST";
  for (const t of tokens) {
    const objectOnly = shape.types.size > 0 && [...shape.types].every((x) => x === "object");
    const arrayOnly = shape.types.size > 0 && [...shape.types].every((x) => x === "array");
    if (shape.types.has("object") && !/^(0|[1-9][0-9]*)$/.test(t)) {
      const c = childShape(shape, t);
      if (c.forbidden) return { shape: nothing(), exists: "CANNOT" };
      const here: Exists = c.declared ? (c.required && objectOnly ? "MUST" : "MAY") : "IMPLICIT";
      exists = weaker(exists, here);
      shape = c.shape;
    } else if (shape.types.has("array") && /^(0|[1-9][0-9]*)$/.test(t)) {
      const i = Number(t);
      const here: Exists = shape.tuple[i] ? (arrayOnly && i < shape.minItems ? "MUST" : "MAY") : "IMPLICIT";
      exists = weaker(exists, here);
      shape = itemShape(shape, i);
    } else if (shape.types.has("object")) {
      const c = childShape(shape, t);
      if (c.forbidden) return { shape: nothing(), exists: "CANNOT" };
      exists = weaker(exists, c.declared ? (c.required && objectOnly ? "MUST" : "MAY") : "IMPLICIT");
      shape = c.shape;
    } else {
      return { shape: nothing(), exists: "CANNOT" };
    }
  }
  return { shape, exists };
}

const RANK: Record<Exists, number> = { MUST: 0, MAY: 1, IMPLICIT: 2, CANNOT: 3 };
function weaker(a: Exists, b: Exists): Exists {
  return RANK[a] >= RANK[b] ? a : b;
}

/** Every declared location under `root` (properties and tuple items), parents first. */
export function* locations(root: Shape): Generator<{ tokens: string[]; shape: Shape; exists: Exists }> {
  const seen = new Set<Shape>();
  function* walk(shape: Shape, tokens: string[], exists: Exists): Generator<{ tokens: string[]; shape: Shape; exists: Exists }> {
    if (seen.has(shape) && tokens.length > 16) return; // recursive schemas
    seen.add(shape);
    const objectOnly = shape.types.size > 0 && [...shape.types].every((x) => x === "object");
    if (shape.types.has("object")) {
      for (const [k, p] of [...shape.properties].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        if (k === "") continue;
        const here: Exists = p.shape.types.size === 0 ? "CANNOT" : p.required && objectOnly ? "MUST" : "MAY";
        const e = weaker(exists, here);
        if (e === "CANNOT") continue; // a property the schema forbids is not a location
        const t = [...tokens, k];
        yield { tokens: t, shape: p.shape, exists: e };
        yield* walk(p.shape, t, e);
      }
    }
  }
  yield* walk(root, [], "MUST");
}
