/**
 * A JetStream message as a document. A JSON object payload is passed through
 * verbatim (numbers keep every digit) with `_meta` added first; any other JSON
 * value is held under `value`; a payload that is not JSON is held as base64
 * under `data` with its `contentType` (the message's Content-Type header, else
 * text/plain for UTF-8 text, else application/octet-stream). `_meta` carries
 * the stream, the stream sequence, the subject, the server's timestamp and the
 * headers (a header sent once as a string, several times as an array).
 *
 * Documents are built as UTF-8 bytes, which the stdio transport copies into
 * its frames as they are: the payload's bytes are checked against JSON's
 * grammar (json-check.ts) rather than decoded and parsed, and `_meta` is
 * written from cached pieces, so a JSON payload costs no string at all; a
 * payload's own top-level `_meta` is cut out of its text. Only a collection
 * key that is not an always-present `_meta` field parses the document, to
 * check it.
 */
import { isUtf8 } from "node:buffer";
import { RawJsonBytes } from "../../src/sdk/types.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { valueAtPointer } from "../../src/sdk/bindings.js";
import { JsonScanner } from "../../src/codec/json-scan.js";
import { RBRACE } from "../../src/codec/json-chars.js";
import type { MsgHdrs } from "@nats-io/transport-node";
import type { DocumentKey } from "./config.js";
import { checkJson, valueStart, valueEnd, NOT_JSON, OBJECT, EMPTY_OBJECT, OBJECT_WITH_META, OTHER_JSON, type JsonKind } from "./json-check.js";

let lastSecond = -1n;
let lastPrefix = "";

/** A stream message, as the builder reads it. */
export interface StreamMessage {
  /** Its stream sequence. */
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers?: MsgHdrs;
  /** The `$JS.ACK…` reply subject JetStream delivered it with (its timestamp is read from it). */
  readonly reply?: string;
  /** The server's timestamp, for a reply subject not read directly. */
  readonly timestampNanos: bigint;
  /** Where the reply's timestamp token lies, when the reader already found it. */
  readonly tsFrom?: number;
  readonly tsTo?: number;
}

/** RFC 3339 with the server's nanoseconds, from JetStream's nanosecond timestamp. */
export function timestampText(nanos: bigint): string {
  const second = nanos / 1_000_000_000n;
  // Messages come in bursts within one second: format its date and time once.
  if (second !== lastSecond) {
    lastSecond = second;
    lastPrefix = new Date(Number(second) * 1000).toISOString().slice(0, 19);
  }
  return `${lastPrefix}.${(nanos % 1_000_000_000n).toString().padStart(9, "0")}Z`;
}

/** What a payload is, decided once per message. */
export type Payload = { kind: "object"; text: string; value: Record<string, unknown> } | { kind: "json"; text: string; value: unknown } | { kind: "bytes"; contentType: string };

export function classify(data: Uint8Array, contentType: string | undefined): Payload {
  if (!isUtf8(data)) return { kind: "bytes", contentType: contentType || "application/octet-stream" };
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
  const first = text.trimStart()[0];
  // JSON.parse would accept a bare number or string too; only those first characters can start JSON.
  if (first !== undefined && /[{["\-0-9tfn]/.test(first)) {
    try {
      const value = JSON.parse(text) as unknown;
      if (value !== null && typeof value === "object" && !Array.isArray(value)) return { kind: "object", text, value: value as Record<string, unknown> };
      return { kind: "json", text, value };
    } catch {
      // not JSON: fall through
    }
  }
  return { kind: "bytes", contentType: contentType || "text/plain; charset=utf-8" };
}

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
/** Bounds the per-builder cache of subjects as JSON strings. */
const MAX_CACHED_SUBJECTS = 1000;
/** Dot positions in a reply subject, reused. */
const dots = new Int32Array(12);
/** Where the timestamp token found by timestampToken lies in the reply subject. */
let tsFrom = 0;
let tsTo = 0;

/**
 * Finds the timestamp token (nanoseconds since the epoch) of the message's
 * reply subject (tsFrom, tsTo), where the reader found it or by its dots,
 * when it is one JetStream writes and the token is 10 to 21 digits.
 */
function timestampToken(m: StreamMessage): boolean {
  const reply = m.reply;
  if (reply === undefined) return false;
  if (m.tsTo !== undefined) {
    tsFrom = m.tsFrom!;
    tsTo = m.tsTo;
    return digitsOnly(reply);
  }
  let n = 0;
  for (let p = reply.indexOf("."); p !== -1 && n < 12; p = reply.indexOf(".", p + 1)) dots[n++] = p;
  // $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending> (9 tokens),
  // or with <domain>.<account hash> after ACK (11, or 12 with a trailing token).
  const at = n === 8 ? 7 : n >= 10 ? 9 : -1;
  if (at < 0) return false;
  tsFrom = dots[at - 1]! + 1;
  tsTo = dots[at]!;
  return digitsOnly(reply);
}

function digitsOnly(reply: string): boolean {
  if (tsTo - tsFrom < 10 || tsTo - tsFrom > 21) return false;
  for (let k = tsFrom; k < tsTo; k++) {
    const c = reply.charCodeAt(k);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * The top-level members of an object payload other than `_meta` (which gives
 * way to the connector's), as their own text joined by commas: no value is
 * parsed, so numbers keep every digit here too.
 */
export function membersWithoutMeta(text: string): string {
  const sc = new JsonScanner(text, "payload");
  const kept: string[] = [];
  if (sc.openObject("payload")) {
    do {
      sc.peek();
      const start = sc.pos;
      const key = sc.key();
      sc.skipValue();
      if (key !== "_meta") kept.push(text.slice(start, sc.pos));
    } while (sc.next(RBRACE));
  }
  return kept.join(",");
}

function headersText(m: StreamMessage): string {
  const h = m.headers;
  if (!h) return "";
  const headers: Record<string, string | string[]> = {};
  let any = false;
  for (const k of h.keys()) {
    const vs = h.values(k);
    headers[k] = vs.length === 1 ? vs[0]! : vs;
    any = true;
  }
  return any ? `,"headers":${JSON.stringify(headers)}` : "";
}

/** Bytes of the slabs documents are written into. */
const SLAB = 1 << 20;
const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const SUBJECT = ascii(',"subject":');
const TIMESTAMP_OPEN = ascii(',"timestamp":"');
const VALUE = ascii(',"value":');

/**
 * Builds the documents of one stream's messages as UTF-8 bytes, each written
 * once into a slab (a large buffer handed out in pieces and never written
 * again, as RawJsonBytes requires): `_meta` from a cached per-stream head,
 * per-subject JSON bytes and the reply subject's timestamp digits, then the
 * payload's own bytes after a grammar check (no decoding, no parse, no
 * re-serialization). Payloads that are not JSON, and objects with their own
 * `_meta`, are rarer and go through text.
 */
export class DocumentBuilder {
  private readonly head: Uint8Array;
  private readonly subjects = new Map<string, Uint8Array>();
  private slab = Buffer.allocUnsafeSlow(SLAB);
  private at = 0;
  /** The second of the last timestamp written, and its date and time as ASCII bytes. */
  private second = -1;
  private prefix = new Uint8Array(19);
  /** What the last message's payload was (a JsonKind). */
  kind: JsonKind = NOT_JSON;

  constructor(stream: string) {
    this.head = Buffer.from(`{"_meta":{"stream":${JSON.stringify(stream)},"seq":`);
  }

  private subjectJson(subject: string): Uint8Array {
    let j = this.subjects.get(subject);
    if (j === undefined) {
      if (this.subjects.size >= MAX_CACHED_SUBJECTS) this.subjects.clear();
      j = Buffer.from(JSON.stringify(subject));
      this.subjects.set(subject, j);
    }
    return j;
  }

  /** Room for `n` more bytes at `this.at`, in a fresh slab if this one is too full. */
  private room(n: number): Buffer {
    if (this.at + n > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB, n));
      this.at = 0;
    }
    return this.slab;
  }

  /** Writes `_meta` (the object without the document's closing brace) at `this.at`; returns the index after it. */
  private writeMeta(buf: Buffer, m: StreamMessage, subject: Uint8Array, headers: string): number {
    let i = this.at;
    buf.set(this.head, i);
    i += this.head.length;
    const seq = m.seq;
    i = Number.isSafeInteger(seq) && seq >= 0 ? writeDigits(buf, i, seq) : i + buf.write(String(seq), i, "latin1");
    buf.set(SUBJECT, i);
    i += SUBJECT.length;
    buf.set(subject, i);
    i += subject.length;
    buf.set(TIMESTAMP_OPEN, i);
    i += TIMESTAMP_OPEN.length;
    i = this.writeTimestamp(buf, i, m);
    buf[i++] = 0x22; // "
    if (headers) i += buf.write(headers, i, "utf8");
    buf[i++] = RBRACE;
    return i;
  }

  /**
   * The message's server timestamp as RFC 3339 with nanoseconds, read from
   * its reply subject's timestamp token as text (no BigInt arithmetic); any
   * reply it cannot read that way goes through the client's own parser.
   */
  private writeTimestamp(buf: Buffer, i: number, m: StreamMessage): number {
    const reply = m.reply;
    if (!timestampToken(m)) return i + buf.write(timestampText(m.timestampNanos), i, "latin1");
    // Seconds: 12 digits at most, exact as a number.
    let second = 0;
    for (let k = tsFrom; k < tsTo - 9; k++) second = second * 10 + reply!.charCodeAt(k) - 0x30;
    if (second !== this.second) {
      this.second = second;
      this.prefix = ascii(new Date(second * 1000).toISOString().slice(0, 19));
    }
    buf.set(this.prefix, i);
    i += 19;
    buf[i++] = 0x2e; // .
    for (let k = tsTo - 9; k < tsTo; k++) buf[i++] = reply!.charCodeAt(k);
    buf[i++] = 0x5a; // Z
    return i;
  }

  build(m: StreamMessage): RawJsonBytes {
    const data = m.data;
    const utf8Ok = isUtf8(data);
    const kind = (this.kind = utf8Ok ? checkJson(data) : NOT_JSON);
    const subject = this.subjectJson(m.subject);
    const headers = headersText(m);
    const start = valueStart;
    const end = valueEnd;
    // The rarer kinds: what follows `_meta`, as text.
    let tail: string | undefined;
    if (kind === NOT_JSON) {
      const contentType = m.headers?.get("Content-Type") || (utf8Ok ? "text/plain; charset=utf-8" : "application/octet-stream");
      const base64 = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64");
      tail = `,"data":"${base64}","contentType":${JSON.stringify(contentType)}}`;
    } else if (kind === OBJECT_WITH_META) {
      const rest = membersWithoutMeta(utf8.decode(data));
      tail = rest ? `,${rest}}` : "}";
    }
    // `_meta`: head, seq (24 characters at most), subject, timestamp (30), headers (3 bytes a UTF-16 unit at most), closing braces.
    const bound = this.head.length + 24 + SUBJECT.length + subject.length + TIMESTAMP_OPEN.length + 40 + headers.length * 3 + 2;
    const rest = tail !== undefined ? tail.length * 3 : kind === OTHER_JSON ? VALUE.length + data.length + 1 : data.length + 1;
    const buf = this.room(bound + rest);
    const from = this.at;
    let i = this.writeMeta(buf, m, subject, headers);
    if (kind === OBJECT) {
      // The payload after its opening brace, which a comma replaces.
      if (start === 0) {
        buf.set(data, i);
        buf[i] = 0x2c;
      } else {
        buf[i] = 0x2c;
        buf.set(data.subarray(start + 1), i + 1);
      }
      i += data.length - start;
    } else if (kind === EMPTY_OBJECT) {
      buf[i++] = RBRACE;
    } else if (kind === OTHER_JSON) {
      buf.set(VALUE, i);
      i += VALUE.length;
      buf.set(data.subarray(start, end), i);
      i += end - start;
      buf[i++] = RBRACE;
    } else {
      i += buf.write(tail!, i, "utf8");
    }
    this.at = i;
    return new RawJsonBytes(buf.subarray(from, i));
  }
}

/** Writes the decimal digits of the non-negative integer `n` at `i`; returns the index after them. */
function writeDigits(buf: Uint8Array, i: number, n: number): number {
  let len = 1;
  for (let p = 10; p <= n; p *= 10) len++;
  for (let k = i + len - 1; k >= i; k--) {
    buf[k] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return i + len;
}

const META_ALWAYS = new Set(["/_meta/seq", "/_meta/stream", "/_meta/subject", "/_meta/timestamp"]);

/**
 * A check that every document carries its collection's key, failing with the
 * message's stream sequence and subject (never its contents); undefined when
 * the key is made of `_meta` fields every document has. It reads the
 * document it checks (parsed only for such keys).
 */
export function keyCheck(key: string[]): ((m: StreamMessage, stream: string, doc: RawJsonBytes, kind: JsonKind) => void) | undefined {
  const pointers = key.filter((p) => !META_ALWAYS.has(p));
  if (pointers.length === 0) return undefined;
  return (m, stream, doc, kind) => {
    const value = JSON.parse(utf8.decode(doc.bytes)) as unknown;
    const isObject = kind === OBJECT || kind === EMPTY_OBJECT || kind === OBJECT_WITH_META;
    for (const pointer of pointers) {
      const inMeta = pointer.startsWith("/_meta/");
      const v = inMeta || isObject ? valueAtPointer(value, pointer) : undefined;
      if (v === undefined || v === null || (typeof v === "object" && !Array.isArray(v))) {
        throw new ConnectorError(
          `message ${m.seq} of stream ${stream} (subject ${m.subject}) has no value at the collection key ${pointer}` +
            (!isObject && !inMeta ? " (its payload is not a JSON object)" : ""),
        );
      }
    }
  };
}

/** The collection key discovery gives for `choice`. */
export function keyPointer(choice: DocumentKey | undefined): string {
  if (!choice || choice.type === "sequence") return "/_meta/seq";
  if (choice.type === "header") return `/_meta/headers/${choice.header.replace(/~/g, "~0").replace(/\//g, "~1")}`;
  return choice.pointer;
}

/**
 * The JSON type of a payload pointer key, from a sample message's payload:
 * integer when the sample holds one there, else string. (Flow refuses a key
 * location that may hold either.)
 */
export function keyTypeFrom(sample: Uint8Array | undefined, pointer: string): "integer" | "string" {
  if (!sample) return "string";
  const p = classify(sample, undefined);
  const v = p.kind === "object" ? valueAtPointer(p.value, pointer) : undefined;
  return Number.isInteger(v) ? "integer" : "string";
}

/** The document schema discovery gives a stream's collection; `keyType` types a payload pointer key. */
export function documentSchema(stream: string, subjects: string[], choice: DocumentKey | undefined, keyType: "integer" | "string" = "string"): Record<string, unknown> {
  const headerProps: Record<string, unknown> = {};
  const headersRequired: string[] = [];
  if (choice?.type === "header") {
    headerProps[choice.header] = { type: "string", description: "The collection key." };
    headersRequired.push(choice.header);
  }
  const meta = {
    type: "object",
    properties: {
      stream: { type: "string", description: "The JetStream stream." },
      seq: { type: "integer", description: "The message's stream sequence." },
      subject: { type: "string", description: "The subject the message was published on." },
      timestamp: { type: "string", format: "date-time", description: "When the stream stored the message." },
      headers: {
        type: "object",
        description: "The message's headers: a string for a header sent once, an array for one sent several times.",
        properties: headerProps,
        additionalProperties: { anyOf: [{ type: "string" }, { type: "array", items: { type: "string" } }] },
        ...(headersRequired.length ? { required: headersRequired } : {}),
      },
    },
    required: ["stream", "seq", "subject", "timestamp", ...(headersRequired.length ? ["headers"] : [])],
  };
  const schema: Record<string, unknown> = {
    $schema: "http://json-schema.org/draft-07/schema#",
    type: "object",
    description: `Messages of JetStream stream ${stream} (subjects ${subjects.join(", ") || "none"}): the JSON object payload's fields, or value (other JSON), or data (base64) with contentType.`,
    properties: {
      _meta: meta,
      value: { description: "A payload that is JSON but not an object." },
      // No types: a JSON object payload may have fields of these names holding anything.
      data: { description: "A payload that is not JSON, base64-encoded." },
      contentType: { description: "The content type of data." },
    },
    required: ["_meta"],
  };
  if (choice?.type === "pointer") addRequired(schema, choice.pointer, keyType);
  return schema;
}

/** Makes the location at `pointer` required, of key type `type`, in `schema`. */
function addRequired(schema: Record<string, unknown>, pointer: string, type: string): void {
  const tokens = pointer
    .split("/")
    .slice(1)
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
  let node = schema;
  tokens.forEach((t, i) => {
    const props = ((node.properties ??= {}) as Record<string, Record<string, unknown>>);
    node.required = [...new Set([...((node.required as string[]) ?? []), t])];
    const last = i === tokens.length - 1;
    props[t] = last ? { type, description: "The collection key." } : { type: "object", ...(props[t] ?? {}) };
    node = props[t]!;
  });
}
