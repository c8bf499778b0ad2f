/**
 * Fast encoders for the per-document responses: capture.Response with only
 * `captured` set and materialize.Response with only `loaded` set. They write
 * the bytes directly (no reflection) and produce exactly what toBinary /
 * toFlowJson would; for any other message they return undefined and the
 * caller takes the generic path.
 */
import type { DescMessage } from "@bufbuild/protobuf";
import { startsLikeJson } from "./flow-json.js";
import type { WireCodec } from "./wire.js";


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

/** `{"captured":{"binding":N,"doc":DOC}}` with zero values omitted. */
function encodeDocJson(prefix: string, binding: number, doc: string | Uint8Array): Uint8Array | undefined {
  let head = prefix;
  if (binding !== 0) head += '"binding":' + binding;
  if (typeof doc === "string") {
    // Odd raw text (blank, leading whitespace, line breaks) takes the
    // generic path, which checks and compacts it.
    if (doc.length !== 0 && (!startsLikeJson(doc.charCodeAt(0)) || doc.indexOf("\n") >= 0 || doc.indexOf("\r") >= 0)) return undefined;
    const text = doc.length === 0 ? head + "}}" : head + (binding !== 0 ? ',"doc":' : '"doc":') + doc + "}}";
    return toUtf8(text);
  }
  if (doc.length === 0) return toUtf8(head + "}}");
  if (!startsLikeJson(doc[0]!) || doc.indexOf(0x0a) >= 0 || doc.indexOf(0x0d) >= 0) return undefined;
  head += binding !== 0 ? ',"doc":' : '"doc":';
  const out = Buffer.allocUnsafe(head.length + doc.length + 2);
  out.write(head, 0, "latin1"); // ASCII
  out.set(doc, head.length);
  out[out.length - 2] = 0x7d;
  out[out.length - 1] = 0x7d;
  return out;
}


function toUtf8(text: string): Uint8Array {
  return Buffer.from(text, "utf8");
}
