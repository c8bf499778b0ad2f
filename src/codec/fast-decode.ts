/**
 * Fast decoders for per-document messages in both wires: materialize.Request
 * with only `store` or `load` set (what a connector receives), and
 * capture.Response `captured` / materialize.Response `loaded` (what a runtime
 * or test harness receives). They read the bytes directly and build the same
 * message fromBinary / fromFlowJson would; anything they do not recognise
 * (other messages, unknown fields, unusual but valid encodings) returns
 * undefined and the caller takes the generic path, which also reports errors.
 */
import type { DescMessage } from "@bufbuild/protobuf";
import { isUtf8 } from "node:buffer";
import { decodeBase64Bytes } from "./base64.js";
import { literalAt, skipStringBytes, skipValueBytes, skipWsBytes } from "./json-bytes.js";


/** Returns undefined when the payload is not one the fast path handles. */
export type FastDecode = (payload: Uint8Array) => unknown;

export function fastProtoDecoder(schema: DescMessage): FastDecode | undefined {
  return storeLoadProtoDecoder(schema) ?? docResponseDecoder(schema, "proto");
}

export function fastJsonDecoder(schema: DescMessage): FastDecode | undefined {
  return storeLoadJsonDecoder(schema) ?? docResponseDecoder(schema, "json");
}

// Shared zero value for bytes fields, as protobuf-es create() also shares one.
const EMPTY = new Uint8Array(0);

/**
 * The requests the Store and Load fast paths build: the same own fields, in
 * the same order, as protobuf-es create() gives, so they equal the generic
 * path's messages. Their class says what their fields already guarantee: a
 * request holding exactly one message, `store` or `load`, with no field the
 * protos do not define (the fast paths decline anything else), so a reader
 * need not classify it nor look for unknown fields (see isFastDecoded).
 */
class FastStoreRequest {
  readonly $typeName: string;
  readonly internal: Uint8Array;
  readonly store: object;
  constructor(typeName: string, store: object) {
    this.$typeName = typeName;
    this.internal = EMPTY;
    this.store = store;
  }
}

class FastLoadRequest {
  readonly $typeName: string;
  readonly internal: Uint8Array;
  readonly load: object;
  constructor(typeName: string, load: object) {
    this.$typeName = typeName;
    this.internal = EMPTY;
    this.load = load;
  }
}

/** Whether `msg` came from a fast path of this module: one known message set, no unknown field anywhere. */
export function isFastDecoded(msg: object): boolean {
  return msg instanceof FastLoadRequest || msg instanceof FastStoreRequest;
}

interface StoreLoadShape {
  requestType: string;
  storeType: string;
  loadType: string;
  storeTag: number;
  loadTag: number;
}

/**
 * The fast paths build Store and Load messages field by field, so they
 * apply only when the schema is exactly the one they were written for.
 */
function storeLoadShape(schema: DescMessage): StoreLoadShape | undefined {
  if (schema.typeName !== "materialize.Request") return undefined;
  const store = schema.fields.find((f) => f.localName === "store");
  const load = schema.fields.find((f) => f.localName === "load");
  if (store?.fieldKind !== "message" || load?.fieldKind !== "message" || store.oneof || load.oneof) return undefined;
  const shape = (m: DescMessage) => m.fields.map((f) => `${f.number}:${f.localName}:${f.fieldKind}:${f.scalar}`).join(",");
  if (shape(store.message) !== "1:binding:scalar:13,2:keyJson:scalar:12,3:keyPacked:scalar:12,4:valuesJson:scalar:12,5:valuesPacked:scalar:12,6:docJson:scalar:12,7:exists:scalar:8,8:delete:scalar:8") {
    return undefined;
  }
  if (shape(load.message) !== "1:binding:scalar:13,2:keyJson:scalar:12,3:keyPacked:scalar:12") return undefined;
  if (store.number > 15 || load.number > 15) return undefined; // one-byte tags
  return {
    requestType: schema.typeName,
    storeType: store.message.typeName,
    loadType: load.message.typeName,
    storeTag: (store.number << 3) | 2,
    loadTag: (load.number << 3) | 2,
  };
}

/**
 * materialize.Request `store` and `load` in protobuf. Bytes fields are views
 * into the payload, as fromBinary gives. Unknown fields, repeated outer
 * fields or over-long varints go the generic way (which keeps unknowns).
 */
function storeLoadProtoDecoder(schema: DescMessage): FastDecode | undefined {
  const shape = storeLoadShape(schema);
  if (!shape) return undefined;
  const { requestType, storeType, loadType, storeTag, loadTag } = shape;

  return (b) => {
    const n = b.length;
    const tag = b[0];
    const isStore = tag === storeTag;
    if (!isStore && tag !== loadTag) return undefined;
    // The whole payload must be this one field.
    let i = 1;
    let len = 0;
    for (let shift = 0; ; shift += 7) {
      const c = b[i++];
      if (c === undefined || shift > 21) return undefined;
      len += (c & 0x7f) * 2 ** shift;
      if (c < 0x80) break;
    }
    if (i + len !== n) return undefined;

    let binding = 0;
    let keyJson: Uint8Array = EMPTY;
    let keyPacked: Uint8Array = EMPTY;
    let valuesJson: Uint8Array = EMPTY;
    let valuesPacked: Uint8Array = EMPTY;
    let docJson: Uint8Array = EMPTY;
    let exists = false;
    let del = false;
    while (i < n) {
      const t = b[i++]!;
      const field = t >> 3;
      const wireType = t & 7;
      if (t >= 0x80 || field === 0 || (isStore ? field > 8 : field > 3)) return undefined;
      if (wireType === 0) {
        // binding (uint32), exists, delete (bool)
        let v = 0;
        for (let shift = 0; ; shift += 7) {
          const c = b[i++];
          if (c === undefined || shift > 28) return undefined;
          v += (c & 0x7f) * 2 ** shift;
          if (c < 0x80) break;
        }
        if (field === 1) {
          if (v > 0xffffffff) return undefined;
          binding = v;
        } else if (field === 7 || field === 8) {
          if (field === 7) exists = v !== 0;
          else del = v !== 0;
        } else {
          return undefined;
        }
      } else if (wireType === 2) {
        let l = 0;
        for (let shift = 0; ; shift += 7) {
          const c = b[i++];
          if (c === undefined || shift > 28) return undefined;
          l += (c & 0x7f) * 2 ** shift;
          if (c < 0x80) break;
        }
        const end = i + l;
        if (end > n) return undefined;
        const v = b.subarray(i, end);
        i = end;
        switch (field) {
          case 2:
            keyJson = v;
            break;
          case 3:
            keyPacked = v;
            break;
          case 4:
            valuesJson = v;
            break;
          case 5:
            valuesPacked = v;
            break;
          case 6:
            docJson = v;
            break;
          default:
            return undefined;
        }
      } else {
        return undefined;
      }
    }
    if (isStore) {
      return new FastStoreRequest(requestType, { $typeName: storeType, binding, keyJson, keyPacked, valuesJson, valuesPacked, docJson, exists, delete: del });
    }
    return new FastLoadRequest(requestType, { $typeName: loadType, binding, keyJson, keyPacked });
  };
}

const STORE_KEYS = [
  "binding",
  "key",
  "key_json",
  "keyPacked",
  "key_packed",
  "values",
  "values_json",
  "valuesPacked",
  "values_packed",
  "doc",
  "doc_json",
  "exists",
  "delete",
];
// Candidates by first letter, so a key is matched by comparing bytes rather
// than by building a string from them.
const KEYS_BY_FIRST = new Map<number, string[]>();
for (const k of STORE_KEYS) {
  const list = KEYS_BY_FIRST.get(k.charCodeAt(0)) ?? [];
  list.push(k);
  KEYS_BY_FIRST.set(k.charCodeAt(0), list);
}

/** The Store/Load field name whose text and closing `":` are at b[i..], if any. */
function storeKey(b: Uint8Array, i: number): string | undefined {
  const candidates = KEYS_BY_FIRST.get(b[i]!);
  if (candidates === undefined) return undefined;
  for (let k = 0; k < candidates.length; k++) {
    const key = candidates[k]!;
    const end = i + key.length;
    if (b[end] === 0x22 && b[end + 1] === 0x3a && literalAt(b, i, key)) return key;
  }
  return undefined;
}

/**
 * materialize.Request `store` and `load` in JSON, scanned over the bytes so
 * raw values are copied out without a UTF-8 round trip. Handles the compact
 * form Flow writes; anything else returns undefined.
 */
function storeLoadJsonDecoder(schema: DescMessage): FastDecode | undefined {
  const shape = storeLoadShape(schema);
  if (!shape) return undefined;
  const { requestType, storeType, loadType } = shape;

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
        const key = storeKey(b, i + 1);
        if (key === undefined) return undefined; // unknown or escaped: the generic path decides
        i += key.length + 3; // quotes and colon
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
              const view = b.subarray(i, end);
              // The generic path rejects payloads that are not valid UTF-8.
              if (!isUtf8(view)) return undefined;
              // Copy out, so the message does not pin the whole input chunk.
              const raw = Buffer.from(view);
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
      return new FastStoreRequest(requestType, { $typeName: storeType, binding, keyJson, keyPacked, valuesJson, valuesPacked, docJson, exists, delete: del });
    }
    return new FastLoadRequest(requestType, { $typeName: loadType, binding, keyJson, keyPacked });
  };
}

// ------------------------------------------------------ document responses

const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: (this: Uint8Array, start: number, end: number) => string }).utf8Slice;
const utf8Decoder = new TextDecoder();

/** UTF-8 text of b[start..end), replacing invalid sequences as TextDecoder does. */
function utf8Text(b: Uint8Array, start: number, end: number): string {
  return utf8Slice ? utf8Slice.call(b, start, end) : utf8Decoder.decode(b.subarray(start, end));
}

/**
 * Reads a varint of at most 5 bytes at i and returns it (-1 if malformed),
 * leaving the index after it in `varintEnd` (avoids allocating a pair).
 */
function readVarint32(b: Uint8Array, i: number): number {
  let v = 0;
  for (let shift = 0; shift <= 28; shift += 7) {
    const c = b[i++];
    if (c === undefined) return -1;
    v += (c & 0x7f) * 2 ** shift;
    if (c < 0x80) {
      varintEnd = i;
      return v;
    }
  }
  return -1;
}
let varintEnd = 0;

/**
 * capture.Response with only `captured`, materialize.Response with only
 * `loaded`: {binding uint32 = 1; doc_json = 2} (string or bytes).
 */
function docResponseDecoder(schema: DescMessage, wire: "proto" | "json"): FastDecode | undefined {
  let docField: string;
  if (schema.typeName === "capture.Response") docField = "captured";
  else if (schema.typeName === "materialize.Response") docField = "loaded";
  else return undefined;
  const field = schema.fields.find((f) => f.localName === docField);
  if (field?.fieldKind !== "message" || field.oneof || field.number > 15) return undefined;
  const shape = field.message.fields.map((f) => `${f.number}:${f.localName}:${f.fieldKind === "scalar" ? f.scalar : ""}`).join(",");
  let asText: boolean;
  if (shape === "1:binding:13,2:docJson:9") asText = true;
  else if (shape === "1:binding:13,2:docJson:12") asText = false;
  else return undefined;
  if (!schema.fields.some((f) => f.localName === "internal")) return undefined;
  const responseType = schema.typeName;
  const innerType = field.message.typeName;
  const tag = (field.number << 3) | 2;
  const jsonPrefix = `{${JSON.stringify(field.jsonName)}:{`;
  const build = (binding: number, doc: string | Uint8Array) => ({
    $typeName: responseType,
    internal: EMPTY,
    [docField]: { $typeName: innerType, binding, docJson: doc },
  });

  if (wire === "proto") {
    return (b) => {
      const n = b.length;
      if (b[0] !== tag) return undefined;
      const len = readVarint32(b, 1);
      let i = varintEnd;
      if (len < 0 || i + len !== n) return undefined;
      let binding = 0;
      let doc: string | Uint8Array = asText ? "" : EMPTY;
      while (i < n) {
        const t = b[i++];
        if (t === 0x08) {
          const v = readVarint32(b, i);
          if (v < 0 || v > 0xffffffff) return undefined;
          binding = v;
          i = varintEnd;
        } else if (t === 0x12) {
          const l = readVarint32(b, i);
          i = varintEnd;
          if (l < 0 || i + l > n) return undefined;
          // Views into the payload, as fromBinary gives. fromBinary rejects
          // invalid UTF-8 in strings, so leave that to it (and its error).
          if (asText) {
            if (!isUtf8(b.subarray(i, i + l))) return undefined;
            doc = utf8Text(b, i, i + l);
          } else {
            doc = b.subarray(i, i + l);
          }
          i += l;
        } else {
          return undefined;
        }
      }
      return build(binding, doc);
    };
  }

  return (b) => {
    if (!literalAt(b, 0, jsonPrefix)) return undefined;
    let i = jsonPrefix.length;
    let binding = 0;
    let doc: string | Uint8Array = asText ? "" : EMPTY;
    if (b[i] === 0x7d) {
      i++;
    } else {
      for (;;) {
        if (literalAt(b, i, '"binding":')) {
          i += 10;
          let v = 0;
          const start = i;
          for (let c = b[i]; c !== undefined && c >= 0x30 && c <= 0x39; c = b[++i]) v = v * 10 + (c - 0x30);
          if (i === start || i - start > 10 || v > 0xffffffff || (b[start] === 0x30 && i - start > 1)) return undefined;
          binding = v;
        } else if (literalAt(b, i, '"doc":')) {
          i += 6;
          if (literalAt(b, i, "null")) {
            i += 4;
            doc = asText ? "" : EMPTY;
          } else {
            const end = skipValueBytes(b, i);
            // The generic path rejects payloads that are not valid UTF-8.
            if (end < 0 || !isUtf8(b.subarray(i, end))) return undefined;
            doc = asText ? utf8Text(b, i, end) : Buffer.from(b.subarray(i, end));
            i = end;
          }
        } else {
          return undefined;
        }
        const c = b[i++];
        if (c === 0x2c) continue;
        if (c === 0x7d) break;
        return undefined;
      }
    }
    if (b[i++] !== 0x7d || skipWsBytes(b, i) !== b.length) return undefined;
    return build(binding, doc);
  };
}
