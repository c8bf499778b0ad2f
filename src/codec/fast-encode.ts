/**
 * Fast encoders for per-document messages:
 *  - responses with only the document field set: capture.Response `captured`
 *    and materialize.Response `loaded` ({binding uint32 = 1; doc_json = 2});
 *  - materialize.Request with only `store` or `load` set (what a runtime or
 *    test harness sends per document).
 * They write bytes directly (no reflection) and produce exactly what
 * toBinary / toFlowJson would; for any other message they return undefined
 * and the caller takes the generic path.
 */
import { ScalarType, type DescMessage } from "@bufbuild/protobuf";
import { startsLikeJson } from "./flow-json.js";
import type { WireCodec } from "./wire.js";
import type { FrameWriter } from "./frames.js";

/** Returns undefined when the message is not one the fast path handles. */
export type FastEncode = (msg: Record<string, unknown>) => Uint8Array | undefined;

export function fastEncoder(schema: DescMessage, wire: WireCodec): FastEncode | undefined {
  switch (schema.typeName) {
    case "capture.Response":
      return docResponseEncoder(schema, "captured", wire);
    case "materialize.Response":
      return docResponseEncoder(schema, "loaded", wire);
    case "materialize.Request":
      return storeLoadEncoder(schema, wire);
    default:
      return undefined;
  }
}

/**
 * Frames a message straight into `frames`; returns false (having written
 * nothing) when the fast path does not handle it.
 */
export type FastFrame = (msg: Record<string, unknown>, frames: FrameWriter) => boolean;

/** The framing fast path of the per-document responses (Captured, Loaded). */
export function fastFramer(schema: DescMessage, wire: WireCodec): FastFrame | undefined {
  switch (schema.typeName) {
    case "capture.Response":
      return docResponseFramer(schema, "captured", wire);
    case "materialize.Response":
      return docResponseFramer(schema, "loaded", wire);
    default:
      return undefined;
  }
}

/** Field shape `number:localName:scalarType,...`, for checking a schema is the expected one. */
function shapeOf(m: DescMessage): string {
  return m.fields.map((f) => `${f.number}:${f.localName}:${f.fieldKind === "scalar" ? f.scalar : f.fieldKind}`).join(",");
}

/**
 * Checks (once) that every field of `schema` other than `keep` is a message
 * or a bytes field, and returns a test that they are all unset.
 */
function othersUnset(schema: DescMessage, keep: string[]): ((msg: Record<string, unknown>) => boolean) | undefined {
  const others = schema.fields.filter((f) => !keep.includes(f.localName));
  if (schema.fields.some((f) => f.oneof !== undefined)) return undefined;
  const messages: string[] = [];
  const bytes: string[] = [];
  for (const f of others) {
    if (f.fieldKind === "message") messages.push(f.localName);
    else if (f.fieldKind === "scalar" && f.scalar === ScalarType.BYTES) bytes.push(f.localName);
    else return undefined;
  }
  // Walks the properties the message has (three for a document response)
  // rather than probing each absent field: about 2.5x cheaper per document.
  const kept = new Set(keep);
  const messageSet = new Set(messages);
  const bytesSet = new Set(bytes);
  return (msg) => {
    for (const k in msg) {
      const v = msg[k];
      if (v === undefined || kept.has(k)) continue;
      if (bytesSet.has(k)) {
        if ((v as Uint8Array).length !== 0) return false;
      } else if (k === "$unknown") {
        if ((v as unknown[]).length > 0) return false;
      } else if (messageSet.has(k)) return false;
    }
    return true;
  };
}

function hasUnknown(m: Record<string, unknown>): boolean {
  const u = m.$unknown as unknown[] | undefined;
  return u !== undefined && u.length > 0;
}

function isUint32(n: number): boolean {
  return n >= 0 && n <= 0xffffffff && Math.floor(n) === n;
}

// ------------------------------------------------------ document responses

interface DocResponse {
  tag: number;
  jsonPrefix: string;
  /** The document message of `msg` when the fast path handles it. */
  docOf(msg: Record<string, unknown>): { binding: number; docJson: string | Uint8Array } | undefined;
}

function docResponse(schema: DescMessage, docField: string): DocResponse | undefined {
  const field = schema.fields.find((f) => f.localName === docField);
  if (!field || field.fieldKind !== "message" || field.number > 15) return undefined;
  const inner = shapeOf(field.message);
  if (inner !== `1:binding:${ScalarType.UINT32},2:docJson:${ScalarType.STRING}` && inner !== `1:binding:${ScalarType.UINT32},2:docJson:${ScalarType.BYTES}`) {
    return undefined;
  }
  const unset = othersUnset(schema, [docField]);
  if (!unset) return undefined;
  return {
    tag: (field.number << 3) | 2,
    jsonPrefix: `{${JSON.stringify(field.jsonName)}:{`,
    docOf(msg) {
      const m = msg[docField] as { binding: number; docJson: string | Uint8Array } | undefined;
      if (m === undefined || !unset(msg) || hasUnknown(m as never) || !isUint32(m.binding)) return undefined;
      return m;
    },
  };
}

function docResponseEncoder(schema: DescMessage, docField: string, wire: WireCodec): FastEncode | undefined {
  const r = docResponse(schema, docField);
  if (!r) return undefined;
  return (msg) => {
    const m = r.docOf(msg);
    if (m === undefined) return undefined;
    return wire === "proto" ? encodeDocProto(r.tag, m.binding, m.docJson) : encodeDocJson(r.jsonPrefix, m.binding, m.docJson);
  };
}

/**
 * Frames a document response (Captured, Loaded) from its two fields, with
 * no message object: the bytes the framing fast path writes for
 * `{ [docField]: { binding, docJson } }`. Returns false (having written
 * nothing) when only the generic path can encode it (JSON text that must be
 * checked and compacted).
 */
export type DocFramer = (binding: number, docJson: string | Uint8Array, frames: FrameWriter) => boolean;

/** The DocFramer of capture.Response (`captured`) or materialize.Response (`loaded`). */
export function docFramer(schema: DescMessage, wire: WireCodec): DocFramer | undefined {
  const docField = schema.typeName === "capture.Response" ? "captured" : schema.typeName === "materialize.Response" ? "loaded" : undefined;
  if (docField === undefined) return undefined;
  const r = docResponse(schema, docField);
  return r && docFramerOf(r, wire);
}

function docFramerOf(r: DocResponse, wire: WireCodec): DocFramer {
  if (wire === "proto") {
    return (binding, doc, frames) => isUint32(binding) && frameDocProto(frames, r.tag, binding, doc);
  }
  // JSON: the bytes before the document, `{"captured":{"binding":N,"doc":`, made once per binding.
  const heads: Buffer[] = [];
  const headOf = (binding: number): Buffer => {
    if (binding < 1024 && heads[binding] !== undefined) return heads[binding]!;
    const head = Buffer.from(r.jsonPrefix + (binding !== 0 ? `"binding":${binding},"doc":` : '"doc":'), "latin1");
    if (binding < 1024) {
      while (heads.length < binding) heads.push(undefined as never);
      heads[binding] = head;
    }
    return head;
  };
  return (binding, doc, frames) => {
    if (!isUint32(binding)) return false;
    if (doc.length === 0) {
      frames.append(encodeDocJson(r.jsonPrefix, binding, doc)!);
      return true;
    }
    return frameDocJson(frames, headOf(binding), doc);
  };
}

/**
 * Frames many documents of one binding at once, from one buffer: document k
 * is `bytes[ends[k-1], ends[k])` (the first starts at 0) and `ends[count-1]`
 * is `bytes.length`. Writes exactly the frames the DocFramer writes for each
 * document in order; returns false (having written nothing) when the batch
 * must be framed document by document instead.
 */
export type DocsFramer = (binding: number, bytes: Uint8Array, ends: ArrayLike<number>, count: number, frames: FrameWriter) => boolean;

/**
 * The DocsFramer of capture.Response (`captured`) for the protobuf wire; undefined for other messages and for
 * JSON lines, whose documents are each checked and framed by the DocFramer.
 */
export function docsFramer(schema: DescMessage, wire: WireCodec): DocsFramer | undefined {
  if (wire !== "proto" || schema.typeName !== "capture.Response") return undefined;
  const r = docResponse(schema, "captured");
  if (!r) return undefined;
  return (binding, bytes, ends, count, frames) => isUint32(binding) && frameDocsProto(frames, r.tag, binding, bytes, ends, count);
}

/**
 * Frames many documents of one binding at once, each a span of one buffer:
 * document k is `bytes[starts[k], ends[k])`. Writes exactly the frames the
 * DocFramer writes for each document in order; returns false (having
 * written nothing) when the batch must be framed document by document
 * instead (spans that are not in ascending order or overlap). Throws when a
 * span is not inside `bytes`.
 */
export type DocSpansFramer = (
  binding: number,
  bytes: Uint8Array,
  starts: ArrayLike<number>,
  ends: ArrayLike<number>,
  count: number,
  frames: FrameWriter,
) => boolean;

/** Throws unless document k of a batch of spans, `[s, e)`, lies inside the batch's `bytes`. */
export function checkSpan(bytes: Uint8Array, k: number, s: number, e: number): void {
  if (!(s >= 0 && s <= e && e <= bytes.length)) throw new Error(`a batch's document ${k} spans [${s}, ${e}), outside its ${bytes.length} bytes`);
}

/**
 * The DocSpansFramer of materialize.Response (`loaded`) for the protobuf wire; undefined for other messages and
 * for JSON lines, whose documents are each checked and framed by the DocFramer.
 */
export function docSpansFramer(schema: DescMessage, wire: WireCodec): DocSpansFramer | undefined {
  if (wire !== "proto" || schema.typeName !== "materialize.Response") return undefined;
  const r = docResponse(schema, "loaded");
  if (!r) return undefined;
  return (binding, bytes, starts, ends, count, frames) => isUint32(binding) && frameDocSpansProto(frames, r.tag, binding, bytes, starts, ends, count);
}

/** The most bytes docHeadSize() can give: tag, and three varints of up to 5 bytes with the two field tags. */
const MAX_DOC_HEAD = 1 + 5 + 1 + 5 + 1 + 5;

/**
 * frameDocProto's bytes for each document of a batch. The batch is copied once, past room for every frame's
 * prefix and head; each document is then moved down to follow its head (copyWithin: no view per document,
 * which is what copying it from `bytes` would take). A document only ever moves towards the buffer's start
 * and lands at or before the first byte of the documents not yet moved, and a head is written below the
 * document it belongs to, so nothing is overwritten before it is moved.
 */
function frameDocsProto(frames: FrameWriter, tag: number, binding: number, bytes: Uint8Array, ends: ArrayLike<number>, count: number): boolean {
  if (count === 0) return true;
  if (ends[count - 1] !== bytes.length) throw new Error(`a batch of ${count} documents ends at ${ends[count - 1]} but holds ${bytes.length} bytes`);
  const framing = (4 + MAX_DOC_HEAD) * count;
  const buf = frames.reserve(framing + bytes.length);
  const staged = frames.payloadOffset + framing;
  buf.set(bytes, staged);
  let from = 0;
  for (let k = 0; k < count; k++) {
    const to = ends[k]!;
    const docLen = to - from;
    if (docLen < 0) throw new Error(`a batch's document ${k} ends at ${to}, before its start ${from}`);
    const start = frames.payloadOffset;
    const pos = putDocHead(buf, start, tag, binding, docLen);
    if (docLen !== 0) buf.copyWithin(pos, staged + from, staged + to);
    frames.commit(pos - start + docLen);
    from = to;
  }
  return true;
}

/**
 * frameDocProto's bytes for each document of a batch of spans, in one pass: the bytes from the first span's start
 * to the last one's end are copied once, past room for every frame's prefix and head, and each document is then
 * moved down to follow its head, as frameDocsProto does (spans in ascending order, the bytes between them are
 * copied and dropped). No view or object per document.
 */
function frameDocSpansProto(
  frames: FrameWriter,
  tag: number,
  binding: number,
  bytes: Uint8Array,
  starts: ArrayLike<number>,
  ends: ArrayLike<number>,
  count: number,
): boolean {
  if (count === 0) return true;
  const first = starts[0]!;
  let prev = first;
  for (let k = 0; k < count; k++) {
    const s = starts[k]!;
    const e = ends[k]!;
    checkSpan(bytes, k, s, e);
    if (s < prev) return false;
    prev = e;
  }
  const framing = (4 + MAX_DOC_HEAD) * count;
  const buf = frames.reserve(framing + (prev - first));
  // bytes[i] is staged at buf[shift + i].
  const shift = frames.payloadOffset + framing - first;
  buf.set(first === 0 && prev === bytes.length ? bytes : bytes.subarray(first, prev), shift + first);
  for (let k = 0; k < count; k++) {
    const s = starts[k]!;
    const docLen = ends[k]! - s;
    const start = frames.payloadOffset;
    const pos = putDocHead(buf, start, tag, binding, docLen);
    if (docLen !== 0) buf.copyWithin(pos, shift + s, shift + s + docLen);
    frames.commit(pos - start + docLen);
  }
  return true;
}

function docResponseFramer(schema: DescMessage, docField: string, wire: WireCodec): FastFrame | undefined {
  const r = docResponse(schema, docField);
  if (!r) return undefined;
  const frame = docFramerOf(r, wire);
  return (msg, frames) => {
    const m = r.docOf(msg);
    return m !== undefined && frame(m.binding, m.docJson, frames);
  };
}

/**
 * Strings longer than this are measured before they are written; shorter
 * ones are written into room for their worst case (3 bytes a UTF-16 unit)
 * and measured by the write, which saves a pass over the text.
 */
const MEASURE_ABOVE = 16 * 1024;

/** The inner length of a document message: `{ 08 binding } { 12 len doc }`. */
function docInnerSize(binding: number, docLen: number): number {
  return (binding !== 0 ? 1 + varintSize(binding) : 0) + (docLen !== 0 ? 1 + varintSize(docLen) + docLen : 0);
}

/** Bytes before the document text: tag, inner length, binding, document tag and length. */
function docHeadSize(binding: number, docLen: number): number {
  const inner = docInnerSize(binding, docLen);
  return 1 + varintSize(inner) + inner - docLen;
}

/**
 * Writes the bytes before a document's text (docHeadSize of them) at `pos`:
 * `tag len { 08 binding } { 12 len }`, zero values omitted as protobuf does.
 * Returns where the text goes.
 */
function putDocHead(buf: Uint8Array, pos: number, tag: number, binding: number, docLen: number): number {
  buf[pos++] = tag;
  pos = putVarint(buf, pos, docInnerSize(binding, docLen));
  if (binding !== 0) {
    buf[pos++] = 0x08;
    pos = putVarint(buf, pos, binding);
  }
  if (docLen !== 0) {
    buf[pos++] = 0x12;
    pos = putVarint(buf, pos, docLen);
  }
  return pos;
}

/** encodeDocProto's bytes, written as the payload of the next frame. */
function frameDocProto(frames: FrameWriter, tag: number, binding: number, doc: string | Uint8Array): boolean {
  const measured = typeof doc !== "string" || doc.length > MEASURE_ABOVE;
  // Exact when measured; otherwise a lower bound (UTF-8 never has fewer bytes than UTF-16 units).
  let docLen = typeof doc === "string" && measured ? Buffer.byteLength(doc, "utf8") : doc.length;
  const room = measured ? docLen : doc.length * 3;
  const buf = frames.reserve(docHeadSize(binding, room) + room);
  const start = frames.payloadOffset;
  let head = docHeadSize(binding, docLen);
  if (typeof doc !== "string") buf.set(doc, start + head);
  else if (docLen !== 0) {
    const written = buf.write(doc, start + head, "utf8");
    if (written !== docLen) {
      // Non-ASCII text: its length may need a longer varint; move the text up.
      const actual = docHeadSize(binding, written);
      if (actual !== head) buf.copyWithin(start + actual, start + head, start + head + written);
      head = actual;
      docLen = written;
    }
  }
  putDocHead(buf, start, tag, binding, docLen);
  frames.commit(head + docLen);
  return true;
}

/** encodeDocJson's bytes for a non-empty document after `head`, written as the payload of the next frame. */
function frameDocJson(frames: FrameWriter, head: Buffer, doc: string | Uint8Array): boolean {
  if (typeof doc === "string" ? !plainRawText(doc) : !plainRawBytes(doc)) return false;
  const room = typeof doc !== "string" ? doc.length : doc.length > MEASURE_ABOVE ? Buffer.byteLength(doc, "utf8") : doc.length * 3;
  const buf = frames.reserve(head.length + room + 2);
  const start = frames.payloadOffset;
  // A short copy is cheaper in a loop than through a native call.
  for (let i = 0; i < head.length; i++) buf[start + i] = head[i]!;
  let pos = start + head.length;
  if (typeof doc === "string") pos += buf.write(doc, pos, "utf8");
  else {
    buf.set(doc, pos);
    pos += doc.length;
  }
  buf[pos++] = 0x7d;
  buf[pos++] = 0x7d;
  frames.commit(pos - start);
  return true;
}

/** `tag len { 08 binding } { 12 len doc }`, zero values omitted as protobuf does. */
function encodeDocProto(tag: number, binding: number, doc: string | Uint8Array): Uint8Array {
  const docLen = typeof doc === "string" ? Buffer.byteLength(doc, "utf8") : doc.length;
  const buf = Buffer.allocUnsafe(docHeadSize(binding, docLen) + docLen);
  const pos = putDocHead(buf, 0, tag, binding, docLen);
  if (docLen !== 0) {
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
    if (doc.length === 0) return Buffer.from(head + "}}", "latin1");
    if (!plainRawText(doc)) return undefined;
    return Buffer.from(head + (binding !== 0 ? ',"doc":' : '"doc":') + doc + "}}", "utf8");
  }
  if (doc.length === 0) return Buffer.from(head + "}}", "latin1");
  if (!plainRawBytes(doc)) return undefined;
  head += binding !== 0 ? ',"doc":' : '"doc":';
  const out = Buffer.allocUnsafe(head.length + doc.length + 2);
  out.write(head, 0, "latin1"); // ASCII
  out.set(doc, head.length);
  out[out.length - 2] = 0x7d;
  out[out.length - 1] = 0x7d;
  return out;
}

/**
 * Raw text that can be spliced in as is: it starts like a JSON value and has
 * no newline (which would end the JSON-lines frame early). Anything else
 * (blank, leading whitespace, multi-line) takes the generic path, which
 * checks and compacts it.
 */
function plainRawText(doc: string): boolean {
  return startsLikeJson(doc.charCodeAt(0)) && doc.indexOf("\n") < 0;
}

// Buffer's indexOf is a native memchr; a plain Uint8Array's is several times slower.
const bufferIndexOf = Buffer.prototype.indexOf;

function plainRawBytes(doc: Uint8Array): boolean {
  if (!startsLikeJson(doc[0]!)) return false;
  return (Buffer.isBuffer(doc) ? doc.indexOf(0x0a) : bufferIndexOf.call(doc, 0x0a)) < 0;
}

// ------------------------------------------------------ Store / Load requests

const STORE_SHAPE = [
  `1:binding:${ScalarType.UINT32}`,
  `2:keyJson:${ScalarType.BYTES}`,
  `3:keyPacked:${ScalarType.BYTES}`,
  `4:valuesJson:${ScalarType.BYTES}`,
  `5:valuesPacked:${ScalarType.BYTES}`,
  `6:docJson:${ScalarType.BYTES}`,
  `7:exists:${ScalarType.BOOL}`,
  `8:delete:${ScalarType.BOOL}`,
].join(",");
const LOAD_SHAPE = STORE_SHAPE.split(",").slice(0, 3).join(",");

function storeLoadEncoder(schema: DescMessage, wire: WireCodec): FastEncode | undefined {
  const store = schema.fields.find((f) => f.localName === "store");
  const load = schema.fields.find((f) => f.localName === "load");
  if (store?.fieldKind !== "message" || load?.fieldKind !== "message" || store.number > 15 || load.number > 15) return undefined;
  if (shapeOf(store.message) !== STORE_SHAPE || shapeOf(load.message) !== LOAD_SHAPE) return undefined;
  const storeOnly = othersUnset(schema, ["store"]);
  const loadOnly = othersUnset(schema, ["load"]);
  if (!storeOnly || !loadOnly) return undefined;
  const storeTag = (store.number << 3) | 2;
  const loadTag = (load.number << 3) | 2;

  return (msg) => {
    let m = msg.store as Record<string, unknown> | undefined;
    let isStore = true;
    if (m !== undefined) {
      if (!storeOnly(msg)) return undefined;
    } else {
      m = msg.load as Record<string, unknown> | undefined;
      if (m === undefined || !loadOnly(msg)) return undefined;
      isStore = false;
    }
    if (hasUnknown(m) || !isUint32(m.binding as number)) return undefined;
    return wire === "proto" ? encodeStoreLoadProto(isStore ? storeTag : loadTag, isStore, m) : encodeStoreLoadJson(isStore, m);
  };
}

function bytesFieldSize(b: Uint8Array): number {
  return b.length === 0 ? 0 : 1 + varintSize(b.length) + b.length;
}

function putBytesField(buf: Buffer, pos: number, tag: number, b: Uint8Array): number {
  if (b.length === 0) return pos;
  buf[pos++] = tag;
  pos = putVarint(buf, pos, b.length);
  buf.set(b, pos);
  return pos + b.length;
}

function encodeStoreLoadProto(tag: number, isStore: boolean, m: Record<string, unknown>): Uint8Array {
  const binding = m.binding as number;
  const keyJson = m.keyJson as Uint8Array;
  const keyPacked = m.keyPacked as Uint8Array;
  let inner = (binding !== 0 ? 1 + varintSize(binding) : 0) + bytesFieldSize(keyJson) + bytesFieldSize(keyPacked);
  let valuesJson: Uint8Array | undefined;
  let valuesPacked: Uint8Array | undefined;
  let docJson: Uint8Array | undefined;
  if (isStore) {
    valuesJson = m.valuesJson as Uint8Array;
    valuesPacked = m.valuesPacked as Uint8Array;
    docJson = m.docJson as Uint8Array;
    inner += bytesFieldSize(valuesJson) + bytesFieldSize(valuesPacked) + bytesFieldSize(docJson);
    if (m.exists) inner += 2;
    if (m.delete) inner += 2;
  }
  const buf = Buffer.allocUnsafe(1 + varintSize(inner) + inner);
  buf[0] = tag;
  let pos = putVarint(buf, 1, inner);
  if (binding !== 0) {
    buf[pos++] = 0x08;
    pos = putVarint(buf, pos, binding);
  }
  pos = putBytesField(buf, pos, 0x12, keyJson);
  pos = putBytesField(buf, pos, 0x1a, keyPacked);
  if (isStore) {
    pos = putBytesField(buf, pos, 0x22, valuesJson!);
    pos = putBytesField(buf, pos, 0x2a, valuesPacked!);
    pos = putBytesField(buf, pos, 0x32, docJson!);
    if (m.exists) {
      buf[pos++] = 0x38;
      buf[pos++] = 1;
    }
    if (m.delete) {
      buf[pos++] = 0x40;
      buf[pos++] = 1;
    }
  }
  return buf;
}

const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: (this: Uint8Array, start: number, end: number) => string }).utf8Slice;

function bytesText(b: Uint8Array): string {
  return utf8Slice ? utf8Slice.call(b, 0, b.length) : Buffer.from(b.buffer, b.byteOffset, b.length).toString("utf8");
}

function base64(b: Uint8Array): string {
  return (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length)).toString("base64");
}

/**
 * `{"store":{"binding":N,"key":K,"keyPacked":"…","values":V,"valuesPacked":"…","doc":D,"exists":true,"delete":true}}`
 * with zero values omitted, built as one string and encoded once (cheaper
 * than many small writes into a buffer).
 */
function encodeStoreLoadJson(isStore: boolean, m: Record<string, unknown>): Uint8Array | undefined {
  let out = isStore ? '{"store":{' : '{"load":{';
  let sep = "";
  const binding = m.binding as number;
  if (binding !== 0) {
    out += '"binding":' + binding;
    sep = ",";
  }
  const keyJson = m.keyJson as Uint8Array;
  if (keyJson.length !== 0) {
    if (!plainRawBytes(keyJson)) return undefined;
    out += sep + '"key":' + bytesText(keyJson);
    sep = ",";
  }
  const keyPacked = m.keyPacked as Uint8Array;
  if (keyPacked.length !== 0) {
    out += sep + '"keyPacked":"' + base64(keyPacked) + '"';
    sep = ",";
  }
  if (isStore) {
    const valuesJson = m.valuesJson as Uint8Array;
    if (valuesJson.length !== 0) {
      if (!plainRawBytes(valuesJson)) return undefined;
      out += sep + '"values":' + bytesText(valuesJson);
      sep = ",";
    }
    const valuesPacked = m.valuesPacked as Uint8Array;
    if (valuesPacked.length !== 0) {
      out += sep + '"valuesPacked":"' + base64(valuesPacked) + '"';
      sep = ",";
    }
    const docJson = m.docJson as Uint8Array;
    if (docJson.length !== 0) {
      if (!plainRawBytes(docJson)) return undefined;
      out += sep + '"doc":' + bytesText(docJson);
      sep = ",";
    }
    if (m.exists) {
      out += sep + '"exists":true';
      sep = ",";
    }
    if (m.delete) out += sep + '"delete":true';
  }
  return Buffer.from(out + "}}", "utf8");
}

// ------------------------------------------------------------------ varints

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
