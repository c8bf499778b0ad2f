/**
 * Message codecs for the two wire encodings Flow's runtime speaks to a
 * connector: protobuf, or Flow JSON (selected by FLOW_RUNTIME_CODEC=json).
 *
 * The generic paths use protobuf-es for binary and flow-json.ts for JSON.
 * Per-document messages (capture Captured, materialize Loaded responses;
 * materialize Store and Load requests in JSON) get hand-written fast paths
 * that produce exactly what the generic paths would; anything they do not
 * recognise falls through to the generic path.
 */
import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { fromFlowJson, toFlowJson } from "./flow-json.js";
import { decodeBase64Bytes } from "./base64.js";
import { literalAt, skipStringBytes, skipValueBytes, skipWsBytes } from "./json-bytes.js";

export type WireCodec = "proto" | "json";

/** FLOW_RUNTIME_CODEC=json selects JSON; anything else (or nothing) means protobuf. */
export function wireCodecFromEnv(env: NodeJS.ProcessEnv = process.env): WireCodec {
  return env.FLOW_RUNTIME_CODEC === "json" ? "json" : "proto";
}

/** Encodes and decodes one message payload (no framing; JSON is UTF-8 text without a newline). */
export interface MessageCodec<M> {
  encode(msg: M): Uint8Array;
  decode(payload: Uint8Array): M;
}

export function messageCodec<D extends DescMessage>(schema: D, wire: WireCodec): MessageCodec<MessageShape<D>> {
  const generic = wire === "proto" ? protoCodec(schema) : jsonCodec(schema);
  const encodeFast = fastEncoder(schema, wire);
  const decodeFast = wire === "json" ? fastJsonDecoder(schema) : undefined;
  if (!encodeFast && !decodeFast) return generic;
  return {
    encode: encodeFast
      ? (msg) => encodeFast(msg as unknown as Record<string, unknown>) ?? generic.encode(msg)
      : generic.encode,
    decode: decodeFast
      ? (payload) => (decodeFast(payload) as MessageShape<D> | undefined) ?? generic.decode(payload)
      : generic.decode,
  };
}

function protoCodec<D extends DescMessage>(schema: D): MessageCodec<MessageShape<D>> {
  return {
    encode: (msg) => toBinary(schema, msg),
    decode: (payload) => {
      try {
        return fromBinary(schema, payload);
      } catch (err) {
        throw new Error(`cannot decode ${schema.typeName} from protobuf: ${(err as Error).message}`);
      }
    },
  };
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function jsonCodec<D extends DescMessage>(schema: D): MessageCodec<MessageShape<D>> {
  return {
    encode: (msg) => toUtf8(toFlowJson(schema, msg)),
    decode: (payload) => {
      let text: string;
      try {
        text = strictUtf8.decode(payload);
      } catch {
        throw new Error(`${schema.typeName}: JSON payload is not valid UTF-8`);
      }
      return fromFlowJson(schema, text);
    },
  };
}

/** Buffers, not fresh Uint8Arrays: small ones come from Node's pool, which is much cheaper. */
function toUtf8(text: string): Uint8Array {
  return Buffer.from(text, "utf8");
}

// ------------------------------------------------------------ fast encode

/** Returns undefined when the message is not one the fast path handles. */
export type FastEncode = (msg: Record<string, unknown>) => Uint8Array | undefined;

/**
 * A fast encoder for Responses whose only set field is the per-document
 * message `docField` = {binding uint32 = 1; doc_json = 2}.
 */
export function fastEncoder(schema: DescMessage, wire: WireCodec): FastEncode | undefined {
  let docField: string;
  if (schema.typeName === "capture.Response") docField = "captured";
  else if (schema.typeName === "materialize.Response") docField = "loaded";
  else return undefined;

  const field = schema.fields.find((f) => f.localName === docField);
  if (!field || field.fieldKind !== "message" || field.oneof) return undefined;
  // Only when the inner message is exactly what the fast path writes.
  const inner = field.message.fields.map((f) => `${f.number}:${f.name}:${f.fieldKind}`).join(",");
  if (inner !== "1:binding:scalar,2:doc_json:scalar") return undefined;

  const others = schema.fields.filter((f) => f !== field).map((f) => ({ local: f.localName, bytes: f.fieldKind === "scalar" }));
  if (schema.fields.some((f) => f.oneof !== undefined)) return undefined;
  const tag = (field.number << 3) | 2;
  const jsonPrefix = `{${JSON.stringify(field.jsonName)}:{`;

  const onlyDoc = (msg: Record<string, unknown>): { binding: number; doc: string | Uint8Array } | undefined => {
    const m = msg[docField] as Record<string, unknown> | undefined;
    if (m === undefined || hasUnknown(msg) || hasUnknown(m)) return undefined;
    for (let i = 0; i < others.length; i++) {
      const o = others[i]!;
      const v = msg[o.local];
      if (o.bytes ? (v as Uint8Array | undefined)?.length : v !== undefined) return undefined;
    }
    return { binding: m.binding as number, doc: m.docJson as string | Uint8Array };
  };

  if (wire === "proto") {
    return (msg) => {
      const d = onlyDoc(msg);
      return d && encodeDocProto(tag, d.binding, d.doc);
    };
  }
  return (msg) => {
    const d = onlyDoc(msg);
    return d && encodeDocJson(jsonPrefix, d.binding, d.doc);
  };
}

function hasUnknown(m: Record<string, unknown>): boolean {
  const u = m.$unknown as unknown[] | undefined;
  return u !== undefined && u.length > 0;
}

function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

function putVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[pos++] = n;
  return pos;
}

/** `tag len { 08 binding } { 12 len doc }`, zero values omitted as protobuf does. */
function encodeDocProto(tag: number, binding: number, doc: string | Uint8Array): Uint8Array | undefined {
  if (!(binding >= 0 && binding <= 0xffffffff && Number.isInteger(binding))) return undefined;
  const docLen = typeof doc === "string" ? Buffer.byteLength(doc, "utf8") : doc.length;
  let innerLen = 0;
  if (binding !== 0) innerLen += 1 + varintSize(binding);
  if (docLen !== 0) innerLen += 1 + varintSize(docLen) + docLen;
  const total = 1 + varintSize(innerLen) + innerLen;
  const buf = Buffer.allocUnsafe(total);
  buf[0] = tag;
  let pos = putVarint(buf, 1, innerLen);
  if (binding !== 0) {
    buf[pos++] = 0x08;
    pos = putVarint(buf, pos, binding);
  }
  if (docLen !== 0) {
    buf[pos++] = 0x12;
    pos = putVarint(buf, pos, docLen);
    if (typeof doc === "string") buf.write(doc, pos, "utf8");
    else buf.set(doc, pos);
  }
  return buf;
}

function startsLikeJson(c: number): boolean {
  // { [ " - digit t f n
  return c === 0x7b || c === 0x5b || c === 0x22 || c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e;
}

/** `{"captured":{"binding":N,"doc":DOC}}` with zero values omitted. */
function encodeDocJson(prefix: string, binding: number, doc: string | Uint8Array): Uint8Array | undefined {
  let head = prefix;
  if (binding !== 0) head += '"binding":' + binding;
  if (typeof doc === "string") {
    // Odd raw text (blank, leading whitespace) takes the generic path, which checks it.
    if (doc.length !== 0 && !startsLikeJson(doc.charCodeAt(0))) return undefined;
    const text = doc.length === 0 ? head + "}}" : head + (binding !== 0 ? ',"doc":' : '"doc":') + doc + "}}";
    return toUtf8(text);
  }
  if (doc.length === 0) return toUtf8(head + "}}");
  if (!startsLikeJson(doc[0]!)) return undefined;
  head += binding !== 0 ? ',"doc":' : '"doc":';
  const out = Buffer.allocUnsafe(head.length + doc.length + 2);
  out.write(head, 0, "latin1"); // ASCII
  out.set(doc, head.length);
  out[out.length - 2] = 0x7d;
  out[out.length - 1] = 0x7d;
  return out;
}

// ------------------------------------------------------------ fast decode

/** Returns undefined when the payload is not one the fast path handles. */
export type FastDecode = (payload: Uint8Array) => unknown;

// Shared zero value for bytes fields, as protobuf-es create() also shares one.
const EMPTY = new Uint8Array(0);

/**
 * materialize.Request `store` and `load` in JSON, scanned over the bytes so
 * raw values are copied out without a UTF-8 round trip. Handles the compact
 * form Flow writes; anything else returns undefined.
 */
export function fastJsonDecoder(schema: DescMessage): FastDecode | undefined {
  if (schema.typeName !== "materialize.Request") return undefined;
  const store = schema.fields.find((f) => f.localName === "store");
  const load = schema.fields.find((f) => f.localName === "load");
  if (store?.fieldKind !== "message" || load?.fieldKind !== "message") return undefined;
  const storeShape = store.message.fields.map((f) => f.localName).join(",");
  const loadShape = load.message.fields.map((f) => f.localName).join(",");
  if (storeShape !== "binding,keyJson,keyPacked,valuesJson,valuesPacked,docJson,exists,delete") return undefined;
  if (loadShape !== "binding,keyJson,keyPacked") return undefined;
  const storeType = store.message.typeName;
  const loadType = load.message.typeName;
  const requestType = schema.typeName;

  return (b) => {
    let isStore: boolean;
    let i: number;
    if (literalAt(b, 0, '{"store":{')) {
      isStore = true;
      i = 10;
    } else if (literalAt(b, 0, '{"load":{')) {
      isStore = false;
      i = 9;
    } else {
      return undefined;
    }
    let binding = 0;
    let keyJson: Uint8Array = EMPTY;
    let keyPacked: Uint8Array = EMPTY;
    let valuesJson: Uint8Array = EMPTY;
    let valuesPacked: Uint8Array = EMPTY;
    let docJson: Uint8Array = EMPTY;
    let exists = false;
    let del = false;
    if (b[i] === 0x7d) {
      i++;
    } else {
      for (;;) {
        if (b[i] !== 0x22) return undefined;
        // Field names are short ASCII; anything else (escapes, non-ASCII) goes the generic way.
        let key = "";
        let j = i + 1;
        for (let c = b[j]; c !== 0x22; c = b[++j]) {
          if (c === undefined || c === 0x5c || c >= 0x80 || j - i > 24) return undefined;
          key += String.fromCharCode(c);
        }
        if (b[j + 1] !== 0x3a) return undefined;
        i = j + 2;
        if (literalAt(b, i, "null")) {
          i += 4;
        } else {
          switch (key) {
            case "binding": {
              let n = 0;
              const start = i;
              for (let c = b[i]; c !== undefined && c >= 0x30 && c <= 0x39; c = b[++i]) n = n * 10 + (c - 0x30);
              if (i === start || i - start > 10 || n > 0xffffffff || (b[start] === 0x30 && i - start > 1)) return undefined;
              binding = n;
              break;
            }
            case "key":
            case "key_json":
            case "values":
            case "values_json":
            case "doc":
            case "doc_json": {
              if (!isStore && key.startsWith("values")) return undefined;
              if (!isStore && key.startsWith("doc")) return undefined;
              const end = skipValueBytes(b, i);
              if (end < 0) return undefined;
              // Copy out, so the message does not pin the whole input chunk.
              const raw = Buffer.from(b.subarray(i, end));
              if (key[0] === "k") keyJson = raw;
              else if (key[0] === "v") valuesJson = raw;
              else docJson = raw;
              i = end;
              break;
            }
            case "keyPacked":
            case "key_packed":
            case "valuesPacked":
            case "values_packed": {
              if (!isStore && key[0] === "v") return undefined;
              if (b[i] !== 0x22) return undefined;
              const end = skipStringBytes(b, i);
              if (end < 0) return undefined;
              const bytes = decodeBase64Bytes(b, i + 1, end - 1);
              if (bytes === undefined) return undefined;
              if (key[0] === "k") keyPacked = bytes;
              else valuesPacked = bytes;
              i = end;
              break;
            }
            case "exists":
            case "delete": {
              if (!isStore) return undefined;
              let v: boolean;
              if (literalAt(b, i, "true")) {
                v = true;
                i += 4;
              } else if (literalAt(b, i, "false")) {
                v = false;
                i += 5;
              } else {
                return undefined;
              }
              if (key === "exists") exists = v;
              else del = v;
              break;
            }
            default:
              return undefined;
          }
        }
        const c = b[i++];
        if (c === 0x2c) continue;
        if (c === 0x7d) break;
        return undefined;
      }
    }
    if (b[i++] !== 0x7d || skipWsBytes(b, i) !== b.length) return undefined;
    // Same shapes (and property order) as protobuf-es create() would give.
    if (isStore) {
      return {
        $typeName: requestType,
        internal: EMPTY,
        store: { $typeName: storeType, binding, keyJson, keyPacked, valuesJson, valuesPacked, docJson, exists, delete: del },
      };
    }
    return { $typeName: requestType, internal: EMPTY, load: { $typeName: loadType, binding, keyJson, keyPacked } };
  };
}
