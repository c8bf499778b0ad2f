/**
 * A JetStream message as a document. A JSON object payload is passed through
 * verbatim (numbers keep every digit) with `_meta` added first; any other JSON
 * value is held under `value`; a payload that is not JSON is held as base64
 * under `data` with its `contentType` (the message's Content-Type header, else
 * text/plain for UTF-8 text, else application/octet-stream). `_meta` carries
 * the stream, the stream sequence, the subject, the server's timestamp and the
 * headers (a header sent once as a string, several times as an array).
 */
import { isUtf8 } from "node:buffer";
import { RawJson } from "../../src/sdk/types.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { valueAtPointer } from "../../src/sdk/bindings.js";
import type { JsMsg } from "@nats-io/jetstream";
import type { DocumentKey } from "./config.js";

export interface Meta {
  stream: string;
  seq: number;
  subject: string;
  timestamp: string;
  headers?: Record<string, string | string[]>;
}


let lastSecond = -1n;
let lastPrefix = "";

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

export function metaOf(m: JsMsg, stream: string): Meta {
  const meta: Meta = { stream, seq: m.seq, subject: m.subject, timestamp: timestampText(BigInt(m.timestampNanos)) };
  const h = m.headers;
  if (h) {
    const headers: Record<string, string | string[]> = {};
    for (const k of h.keys()) {
      const vs = h.values(k);
      headers[k] = vs.length === 1 ? vs[0]! : vs;
    }
    if (Object.keys(headers).length > 0) meta.headers = headers;
  }
  return meta;
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

/** The document of one message. */
export function documentOf(m: JsMsg, stream: string): { doc: RawJson; payload: Payload; meta: Meta } {
  const meta = metaOf(m, stream);
  const payload = classify(m.data, m.headers?.get("Content-Type") || undefined);
  const metaText = JSON.stringify(meta);
  let text: string;
  if (payload.kind === "object") {
    if ("_meta" in payload.value) {
      // The payload's own _meta gives way to ours.
      text = JSON.stringify({ ...payload.value, _meta: meta });
    } else {
      const body = payload.text.trimStart().slice(1);
      text = Object.keys(payload.value).length === 0 ? `{"_meta":${metaText}}` : `{"_meta":${metaText},${body}`;
    }
  } else if (payload.kind === "json") {
    text = `{"_meta":${metaText},"value":${payload.text.trim()}}`;
  } else {
    text = `{"_meta":${metaText},"data":${JSON.stringify(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength).toString("base64"))},"contentType":${JSON.stringify(payload.contentType)}}`;
  }
  return { doc: new RawJson(text), payload, meta };
}

/**
 * A check that every document carries its collection's key, failing with the
 * message's stream sequence and subject (never its contents).
 */
export function keyCheck(key: string[]): (payload: Payload, meta: Meta) => void {
  const checks = key
    .filter((p) => p !== "/_meta/seq" && p !== "/_meta/stream" && p !== "/_meta/subject" && p !== "/_meta/timestamp")
    .map((pointer) => {
      const inMeta = pointer.startsWith("/_meta/");
      return (payload: Payload, meta: Meta) => {
        const v = inMeta ? valueAtPointer({ _meta: meta }, pointer) : payload.kind === "object" ? valueAtPointer(payload.value, pointer) : undefined;
        if (v === undefined || v === null || (typeof v === "object" && !Array.isArray(v))) {
          throw new ConnectorError(
            `message ${meta.seq} of stream ${meta.stream} (subject ${meta.subject}) has no value at the collection key ${pointer}` +
              (payload.kind !== "object" && !inMeta ? " (its payload is not a JSON object)" : ""),
          );
        }
      };
    });
  return (payload, meta) => {
    for (const c of checks) c(payload, meta);
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
