/**
 * Flow's JSON dialect of protobuf messages.
 *
 * It is protojson (json names, zero values omitted, enums by name, 64-bit
 * integers as strings, bytes as base64, Timestamp/Duration as strings) except
 * that every raw-JSON field — proto name ending in `_json`, `_json_map` (map
 * values) or `_json_vec` (list items) — is embedded as the JSON value itself.
 *
 * Raw values pass through as text in both directions: documents hold
 * integers beyond 2^53 and long decimals that JSON.parse would round, and key
 * order must survive. So decoding is a descriptor-guided scan that slices the
 * exact source text of each raw value, and encoding splices the stored text
 * in unchanged. Per-message plans are computed once per schema.
 */
import {
  create,
  fromJson,
  protoInt64,
  ScalarType,
  toJson,
  type DescEnum,
  type DescField,
  type DescMessage,
  type JsonValue,
  type MessageShape,
} from "@bufbuild/protobuf";
import { decodeBase64 } from "./base64.js";
import { compactJson } from "./json-layout.js";
import { JsonScanner } from "./json-scan.js";

/** How a field's (or its items') raw JSON text is stored, if it is a raw-JSON field. */
const enum Raw {
  No = 0,
  String = 1,
  Bytes = 2,
}

const enum Kind {
  Scalar = 0,
  Enum = 1,
  Message = 2,
  List = 3,
  Map = 4,
}

interface FieldPlan {
  readonly field: DescField;
  readonly local: string;
  /** Message-level name for errors, e.g. `capture.Request.Open.state_json`. */
  readonly path: string;
  /** The encoded key with its colon: `"jsonName":`. */
  readonly key: string;
  readonly kind: Kind;
  /** Scalar type of the field, list items or map values (when scalar). */
  readonly scalar: ScalarType | undefined;
  readonly raw: Raw;
  /** Local name of the containing oneof, if any. */
  readonly oneof: string | undefined;
  /** Proto3 implicit presence: zero values are omitted. */
  readonly implicit: boolean;
  readonly longAsString: boolean;
  readonly message: DescMessage | undefined;
  readonly enumDesc: DescEnum | undefined;
  /** Scalar type of map keys. */
  readonly mapKey: ScalarType | undefined;
}

interface MessagePlan {
  readonly desc: DescMessage;
  readonly fields: FieldPlan[];
  /** Fields by json name and by proto name. */
  readonly byName: Map<string, FieldPlan>;
  /** google.protobuf.* types use their own JSON forms. */
  readonly wkt: boolean;
}

const plans = new WeakMap<DescMessage, MessagePlan>();

/** Keys a decoded message's JSON had that its schema does not know. */
const unknownKeys = new WeakMap<object, string[]>();

/** The JSON keys `fromFlowJson` skipped on this message (not its children). */
export function unknownJsonKeys(msg: object): readonly string[] {
  return unknownKeys.get(msg) ?? [];
}

function planFor(desc: DescMessage): MessagePlan {
  let plan = plans.get(desc);
  if (!plan) {
    plan = buildPlan(desc);
    plans.set(desc, plan);
  }
  return plan;
}

function isRawName(name: string): boolean {
  return name.endsWith("_json") || name.endsWith("_json_map") || name.endsWith("_json_vec");
}

function buildPlan(desc: DescMessage): MessagePlan {
  const fields: FieldPlan[] = [];
  const byName = new Map<string, FieldPlan>();
  for (const f of desc.fields) {
    let kind: Kind;
    let scalar: ScalarType | undefined;
    let message: DescMessage | undefined;
    let enumDesc: DescEnum | undefined;
    let mapKey: ScalarType | undefined;
    let longAsString = false;
    switch (f.fieldKind) {
      case "scalar":
        kind = Kind.Scalar;
        scalar = f.scalar;
        longAsString = f.longAsString;
        break;
      case "enum":
        kind = Kind.Enum;
        enumDesc = f.enum;
        break;
      case "message":
        kind = Kind.Message;
        message = f.message;
        break;
      case "list":
        kind = Kind.List;
        scalar = f.scalar;
        message = f.message;
        enumDesc = f.enum;
        longAsString = f.listKind === "scalar" && f.longAsString;
        break;
      case "map":
        kind = Kind.Map;
        scalar = f.scalar;
        message = f.message;
        enumDesc = f.enum;
        mapKey = f.mapKey;
        break;
    }
    let raw = Raw.No;
    if (isRawName(f.name) && (scalar === ScalarType.STRING || scalar === ScalarType.BYTES) && kind !== Kind.Message) {
      raw = scalar === ScalarType.STRING ? Raw.String : Raw.Bytes;
    }
    const plan: FieldPlan = {
      field: f,
      local: f.localName,
      path: `${desc.typeName}.${f.name}`,
      key: JSON.stringify(f.jsonName) + ":",
      kind,
      scalar,
      raw,
      oneof: f.oneof?.localName,
      // Explicit presence is 1 (EXPLICIT); messages, oneof members and
      // proto3 `optional` fields are emitted whenever they are set.
      implicit: (f.fieldKind === "scalar" || f.fieldKind === "enum") && f.presence !== 1 && f.oneof === undefined,
      longAsString,
      message,
      enumDesc,
      mapKey,
    };
    fields.push(plan);
    byName.set(f.jsonName, plan);
  }
  // Proto names too, but a json name always wins if the two ever collide.
  for (const plan of fields) if (!byName.has(plan.field.name)) byName.set(plan.field.name, plan);
  return { desc, fields, byName, wkt: desc.typeName.startsWith("google.protobuf.") };
}

// ------------------------------------------------------------------ encode

/** Renders `msg` as compact Flow JSON (one line, no trailing newline). */
export function toFlowJson<D extends DescMessage>(schema: D, msg: MessageShape<D>): string {
  return encodeMessage(planFor(schema), msg as unknown as Record<string, unknown>);
}

function encodeMessage(plan: MessagePlan, msg: Record<string, unknown>): string {
  if (plan.wkt) return encodeWkt(plan.desc, msg);
  let out = "{";
  let first = true;
  const fields = plan.fields;
  for (let i = 0; i < fields.length; i++) {
    const fp = fields[i]!;
    let v: unknown;
    if (fp.oneof !== undefined) {
      const o = msg[fp.oneof] as { case: string | undefined; value: unknown } | undefined;
      if (o === undefined || o.case !== fp.local) continue;
      v = o.value;
    } else {
      v = msg[fp.local];
      if (v === undefined) continue;
    }
    let text: string | undefined;
    switch (fp.kind) {
      case Kind.Scalar:
        if (fp.implicit && isZeroScalar(fp.scalar!, v)) continue;
        text = fp.raw === Raw.No ? encodeScalar(fp.scalar!, v) : encodeRaw(fp, v);
        if (text === undefined) continue;
        break;
      case Kind.Enum:
        if (fp.implicit && v === 0) continue;
        text = encodeEnum(fp.enumDesc!, v as number);
        break;
      case Kind.Message:
        text = encodeMessage(planFor(fp.message!), v as Record<string, unknown>);
        break;
      case Kind.List: {
        const list = v as unknown[];
        if (list.length === 0) continue;
        text = encodeList(fp, list);
        break;
      }
      case Kind.Map:
        text = encodeMap(fp, v as Record<string, unknown>);
        if (text === undefined) continue;
        break;
    }
    out += first ? fp.key + text : "," + fp.key + text;
    first = false;
  }
  return out + "}";
}

function isZeroScalar(t: ScalarType, v: unknown): boolean {
  switch (t) {
    case ScalarType.STRING:
      return v === "";
    case ScalarType.BYTES:
      return (v as Uint8Array).length === 0;
    case ScalarType.BOOL:
      return v === false;
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      // bigint, or a string with jstype=JS_STRING.
      return v == 0;
    default:
      // protojson omits -0 too, as protobuf-es does (0 === -0).
      return v === 0;
  }
}

/**
 * Returns the stored raw text, or undefined when it is empty (the field is
 * then omitted). Output must stay on one line (the JSON wire is
 * newline-delimited), so text with a newline or leading whitespace is
 * compacted; that also checks it is one well-formed JSON value.
 */
function encodeRaw(fp: FieldPlan, v: unknown): string | undefined {
  const text = fp.raw === Raw.String ? (v as string) : bytesToText(v as Uint8Array);
  if (text.length === 0) return undefined;
  if (!startsLikeJson(text.charCodeAt(0)) || text.indexOf("\n") >= 0) {
    if (text.trim().length === 0) throw new Error(`${fp.path}: raw JSON value is blank`);
    return compactJson(text, `${fp.path}: raw JSON value is not valid JSON`);
  }
  return text;
}

function bytesToText(b: Uint8Array): string {
  if (b.length === 0) return "";
  return Buffer.isBuffer(b) ? b.toString("utf8") : Buffer.from(b.buffer, b.byteOffset, b.length).toString("utf8");
}

/**
 * Whether a character can start a JSON value: { [ " - digit t f n. Raw text
 * that starts like this and has no newline is spliced in unchecked;
 * checking every document's grammar would cost a full scan on the hot path
 * (the decoder does check what comes in).
 */
export function startsLikeJson(c: number): boolean {
  return c === 0x7b || c === 0x5b || c === 0x22 || c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e;
}

function encodeScalar(t: ScalarType, v: unknown): string {
  switch (t) {
    case ScalarType.STRING:
      return JSON.stringify(v);
    case ScalarType.BOOL:
      return v ? "true" : "false";
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return '"' + String(v) + '"';
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT: {
      const n = v as number;
      if (Number.isFinite(n)) return String(n);
      return n !== n ? '"NaN"' : n > 0 ? '"Infinity"' : '"-Infinity"';
    }
    case ScalarType.BYTES:
      return '"' + bytesToBase64(v as Uint8Array) + '"';
    default:
      return String(v);
  }
}

function bytesToBase64(b: Uint8Array): string {
  return (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length)).toString("base64");
}

function encodeEnum(e: DescEnum, v: number): string {
  const value = e.value[v];
  // Unknown numbers are written as numbers, as protojson does.
  return value ? '"' + value.name + '"' : String(v);
}

function encodeItem(fp: FieldPlan, v: unknown): string {
  if (fp.message) return encodeMessage(planFor(fp.message), v as Record<string, unknown>);
  if (fp.enumDesc) return encodeEnum(fp.enumDesc, v as number);
  if (fp.raw !== Raw.No) {
    const text = encodeRaw(fp, v);
    if (text === undefined) throw new Error(`${fp.path}: raw JSON item is empty`);
    return text;
  }
  return encodeScalar(fp.scalar!, v);
}

function encodeList(fp: FieldPlan, list: unknown[]): string {
  let out = "[";
  for (let i = 0; i < list.length; i++) {
    if (i > 0) out += ",";
    out += encodeItem(fp, list[i]);
  }
  return out + "]";
}

function encodeMap(fp: FieldPlan, map: Record<string, unknown>): string | undefined {
  let out = "{";
  let first = true;
  for (const k in map) {
    out += (first ? "" : ",") + JSON.stringify(k) + ":" + encodeItem(fp, map[k]);
    first = false;
  }
  return first ? undefined : out + "}";
}

function encodeWkt(desc: DescMessage, msg: Record<string, unknown>): string {
  if (desc.typeName === "google.protobuf.Timestamp") {
    return '"' + formatTimestamp(msg.seconds as bigint, msg.nanos as number) + '"';
  }
  return JSON.stringify(toJson(desc, msg as never));
}

/** RFC 3339 in UTC with a `+00:00` offset, as Flow writes it; 0, 3, 6 or 9 fraction digits. */
function formatTimestamp(seconds: bigint, nanos: number): string {
  const ms = Number(seconds) * 1000;
  if (!(ms >= -62135596800000 && ms <= 253402300799000)) {
    throw new Error(`google.protobuf.Timestamp: seconds ${seconds} is out of range`);
  }
  let text = new Date(ms).toISOString().slice(0, 19);
  if (nanos !== 0) {
    let frac = String(nanos).padStart(9, "0");
    if (frac.endsWith("000000")) frac = frac.slice(0, 3);
    else if (frac.endsWith("000")) frac = frac.slice(0, 6);
    text += "." + frac;
  }
  return text + "+00:00";
}

// ------------------------------------------------------------------ decode

/**
 * Parses Flow JSON into a message. Accepts json and proto field names,
 * treats `null` as absent and ignores unknown fields.
 */
export function fromFlowJson<D extends DescMessage>(schema: D, text: string): MessageShape<D> {
  const sc = new JsonScanner(text, schema.typeName);
  const msg = decodeMessage(planFor(schema), sc);
  sc.end();
  return msg as MessageShape<D>;
}

/** `path` names the field holding this message, for errors. */
function decodeMessage(plan: MessagePlan, sc: JsonScanner, path?: string): unknown {
  if (plan.wkt) return decodeWkt(plan, sc, path ?? plan.desc.typeName);
  const msg = create(plan.desc) as unknown as Record<string, unknown>;
  if (!sc.openObject(plan.desc.typeName)) return msg;
  do {
    const name = sc.key();
    const fp = plan.byName.get(name);
    if (fp === undefined) {
      sc.skipValue();
      const keys = unknownKeys.get(msg);
      if (keys) keys.push(name);
      else unknownKeys.set(msg, [name]);
      continue;
    }
    if (sc.takeNull()) continue;
    const v = decodeField(fp, sc);
    if (v === undefined) continue; // e.g. an unknown enum name
    if (fp.oneof !== undefined) msg[fp.oneof] = { case: fp.local, value: v };
    else msg[fp.local] = v;
  } while (sc.next(0x7d));
  return msg;
}

function decodeField(fp: FieldPlan, sc: JsonScanner): unknown {
  switch (fp.kind) {
    case Kind.Scalar:
      return fp.raw === Raw.No ? decodeScalar(fp, fp.scalar!, sc) : decodeRaw(fp, sc);
    case Kind.Enum:
      return decodeEnum(fp, sc);
    case Kind.Message:
      return decodeMessage(planFor(fp.message!), sc, fp.path);
    case Kind.List: {
      const list: unknown[] = [];
      if (!sc.openArray(fp.path)) return list;
      do {
        if (sc.takeNull()) sc.fail(`${fp.path}: null is not a valid list item`);
        const item = decodeItem(fp, sc);
        if (item !== undefined) list.push(item);
      } while (sc.next(0x5d));
      return list;
    }
    case Kind.Map: {
      const map: Record<string, unknown> = {};
      if (!sc.openObject(fp.path)) return map;
      do {
        const k = sc.key();
        checkMapKey(fp, k, sc);
        if (sc.takeNull()) sc.fail(`${fp.path}: null is not a valid map value`);
        const item = decodeItem(fp, sc);
        if (item === undefined) continue;
        // A key "__proto__" must be a plain entry, not the prototype.
        if (k === "__proto__") Object.defineProperty(map, k, { value: item, enumerable: true, writable: true, configurable: true });
        else map[k] = item;
      } while (sc.next(0x7d));
      return map;
    }
  }
}

function decodeItem(fp: FieldPlan, sc: JsonScanner): unknown {
  if (fp.message) return decodeMessage(planFor(fp.message), sc, fp.path);
  if (fp.enumDesc) return decodeEnum(fp, sc);
  if (fp.raw !== Raw.No) return decodeRaw(fp, sc);
  return decodeScalar(fp, fp.scalar!, sc);
}

function checkMapKey(fp: FieldPlan, k: string, sc: JsonScanner): void {
  switch (fp.mapKey) {
    case ScalarType.STRING:
      return;
    case ScalarType.BOOL:
      if (k !== "true" && k !== "false") sc.fail(`${fp.path}: invalid map key ${JSON.stringify(k)}`);
      return;
    default:
      if (!/^-?\d+$/.test(k)) sc.fail(`${fp.path}: invalid map key ${JSON.stringify(k)}`);
  }
}

function decodeRaw(fp: FieldPlan, sc: JsonScanner): string | Uint8Array {
  const text = sc.rawValue();
  return fp.raw === Raw.String ? text : textToBytes(text);
}

/**
 * UTF-8 bytes of `text`. A Buffer (a Uint8Array) because Node allocates
 * small Buffers from a shared pool, which is several times cheaper than a
 * fresh Uint8Array per value.
 */
export function textToBytes(text: string): Uint8Array {
  return Buffer.from(text, "utf8");
}

function decodeEnum(fp: FieldPlan, sc: JsonScanner): number | undefined {
  const c = sc.peek();
  if (c === 0x22) {
    const name = sc.string();
    // Unknown names are ignored, like unknown fields: newer runtimes add values.
    return fp.enumDesc!.values.find((v) => v.name === name)?.number;
  }
  const text = sc.numberText();
  const n = Number(text);
  if (!Number.isInteger(n) || n < -2147483648 || n > 2147483647) sc.fail(`${fp.path}: invalid enum value ${text}`);
  return n;
}

function decodeScalar(fp: FieldPlan, t: ScalarType, sc: JsonScanner): unknown {
  const c = sc.peek();
  switch (t) {
    case ScalarType.STRING:
      if (c !== 0x22) sc.fail(`${fp.path}: expected a string`);
      return sc.string();
    case ScalarType.BOOL:
      return sc.bool(fp.path);
    case ScalarType.BYTES: {
      if (c !== 0x22) sc.fail(`${fp.path}: expected a base64 string`);
      const b = decodeBase64(sc.string());
      if (b === undefined) sc.fail(`${fp.path}: invalid base64`);
      return b;
    }
  }
  // Numbers may be written as JSON numbers or as strings.
  const text = c === 0x22 ? sc.string() : sc.numberText();
  switch (t) {
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT: {
      if (text === "NaN") return NaN;
      if (text === "Infinity") return Infinity;
      if (text === "-Infinity") return -Infinity;
      const n = text.trim() === "" ? NaN : Number(text);
      if (Number.isNaN(n)) sc.fail(`${fp.path}: invalid number ${JSON.stringify(text)}`);
      if (t === ScalarType.FLOAT && Number.isFinite(n) && Math.abs(n) > 3.4028234663852886e38) {
        sc.fail(`${fp.path}: float out of range`);
      }
      return n;
    }
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
    case ScalarType.UINT64:
    case ScalarType.FIXED64: {
      const unsigned = t === ScalarType.UINT64 || t === ScalarType.FIXED64;
      let big: bigint;
      if (/^-?\d+$/.test(text)) {
        big = BigInt(text);
      } else {
        const n = Number(text);
        if (!Number.isInteger(n)) sc.fail(`${fp.path}: invalid integer ${JSON.stringify(text)}`);
        big = BigInt(n);
      }
      if (unsigned ? big < 0n || big > 0xffffffffffffffffn : big < -0x8000000000000000n || big > 0x7fffffffffffffffn) {
        sc.fail(`${fp.path}: integer ${text} out of range`);
      }
      return fp.longAsString ? big.toString() : unsigned ? protoInt64.uParse(big) : protoInt64.parse(big);
    }
    default: {
      const n = Number(text);
      const unsigned = t === ScalarType.UINT32 || t === ScalarType.FIXED32;
      if (!Number.isInteger(n) || text.trim() === "" || (unsigned ? n < 0 || n > 0xffffffff : n < -0x80000000 || n > 0x7fffffff)) {
        sc.fail(`${fp.path}: invalid ${unsigned ? "unsigned " : ""}32-bit integer ${JSON.stringify(text)}`);
      }
      return n;
    }
  }
}

function decodeWkt(plan: MessagePlan, sc: JsonScanner, path: string): unknown {
  const at = sc.pos;
  const text = sc.rawValue();
  try {
    return fromJson(plan.desc, JSON.parse(text) as JsonValue);
  } catch (err) {
    const why = (err as Error).message.replace(/^cannot decode message \S+ from JSON: /, "");
    return sc.fail(`${path}: invalid ${plan.desc.typeName} ${text.length > 40 ? text.slice(0, 40) + "…" : text}: ${why}`, at);
  }
}
