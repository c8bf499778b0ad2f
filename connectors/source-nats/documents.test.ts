/**
 * The document builder on messages made here (no server): each payload kind,
 * `_meta` text equal to JSON.stringify of the same fields, timestamps read
 * from either reply-subject form and the client's parser for anything else,
 * and its bytes equal to a general text path's (JSON.parse to classify,
 * JSON.stringify for `_meta`) on edge cases and seeded random messages.
 */
import { describe, expect, it } from "vitest";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { DocumentBuilder, keyCheck, timestampText, type StreamMessage } from "./documents.js";
import type { RawJsonBytes } from "../../src/sdk/types.js";
import { OBJECT, OTHER_JSON, NOT_JSON, EMPTY_OBJECT, OBJECT_WITH_META } from "./json-check.js";
import { membersWithoutMeta } from "./documents.js";
import { jsonKindOf, randomJson } from "./test-json.js";
import { rng } from "../../test/support/rng.js";

const NANOS = 1765049086123456789n;

function msg(data: string | Uint8Array, o: { seq?: number; subject?: string; reply?: string; hdrs?: Record<string, string[]>; nanos?: bigint } = {}): StreamMessage {
  const seq = o.seq ?? 7;
  const nanos = o.nanos ?? NANOS;
  const reply = o.reply ?? `$JS.ACK._.ACCHASH.orders.oc_1.1.${seq}.${seq}.${nanos}.0.rAnD`;
  let h;
  if (o.hdrs) {
    h = natsHeaders();
    for (const [k, vs] of Object.entries(o.hdrs)) for (const v of vs) h.append(k, v);
  }
  return {
    seq,
    subject: o.subject ?? "orders.eu",
    reply,
    data: typeof data === "string" ? new TextEncoder().encode(data) : data,
    headers: h,
    timestampNanos: nanos,
  } as unknown as StreamMessage;
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
/** A built document as text (its bytes must be valid UTF-8). */
const text = (doc: RawJsonBytes) => decoder.decode(doc.bytes);

const meta = (extra: Record<string, unknown> = {}) => ({ stream: "orders", seq: 7, subject: "orders.eu", timestamp: "2025-12-06T19:24:46.123456789Z", ...extra });

describe("DocumentBuilder", () => {
  const b = new DocumentBuilder("orders");

  it("puts _meta first in an object payload's own text, keeping every digit", () => {
    const doc = b.build(msg(' {"id": 12345678901234567890123, "n": [1, 2]} '));
    expect(b.kind).toBe(OBJECT);
    expect(text(doc)).toBe(`{"_meta":${JSON.stringify(meta())},"id": 12345678901234567890123, "n": [1, 2]} `);
  });

  it("holds other JSON under value, and anything else as base64 with a content type", () => {
    expect(JSON.parse(text(b.build(msg(" [1, 2] "))))).toEqual({ _meta: meta(), value: [1, 2] });
    expect(b.kind).toBe(OTHER_JSON);
    expect(JSON.parse(text(b.build(msg("{}"))))).toEqual({ _meta: meta() });
    expect(JSON.parse(text(b.build(msg("not json"))))).toEqual({ _meta: meta(), data: Buffer.from("not json").toString("base64"), contentType: "text/plain; charset=utf-8" });
    expect(JSON.parse(text(b.build(msg(new Uint8Array([0xff, 0])))))).toEqual({ _meta: meta(), data: "/wA=", contentType: "application/octet-stream" });
    // A byte-order mark is not JSON whitespace: such a payload is text, as JSON.parse would say.
    expect(JSON.parse(text(b.build(msg("\ufeff{}")))).contentType).toBe("text/plain; charset=utf-8");
    const typed = JSON.parse(text(b.build(msg("{oops", { hdrs: { "Content-Type": ["application/x-thing"] } }))));
    expect(typed).toMatchObject({ data: Buffer.from("{oops").toString("base64"), contentType: "application/x-thing" });
  });

  it("replaces a payload's own _meta (however its key is escaped) with the connector's", () => {
    const m = `{"_meta":${JSON.stringify(meta())}`;
    expect(text(b.build(msg('{"a": 12345678901234567890123, "\\u005fmeta": {"x": [1]}, "b" : 2 }')))).toBe(`${m},"a": 12345678901234567890123,"b" : 2}`);
    expect(text(b.build(msg('{"_meta": 1, "_meta": 2}')))).toBe(`${m}}`);
    expect(text(b.build(msg(' { "_meta" : null , "z": true } ')))).toBe(`${m},"z": true}`);
  });

  it("writes headers, subjects and streams as JSON.stringify would", () => {
    const odd = new DocumentBuilder('we"ird');
    const doc = odd.build(msg("{}", { subject: 'a."b\u2028', hdrs: { "X-One": ["1"], "X-Many": ["a", 'b"'] } }));
    expect(text(doc)).toBe(`{"_meta":${JSON.stringify(meta({ stream: 'we"ird', subject: 'a."b\u2028', headers: { "X-One": "1", "X-Many": ["a", 'b"'] } }))}}`);
  });

  it("reads the timestamp from either reply form, else through the client", () => {
    const old = b.build(msg("{}", { reply: `$JS.ACK.orders.oc_1.1.7.7.${NANOS}.0` }));
    expect(JSON.parse(text(old))._meta.timestamp).toBe("2025-12-06T19:24:46.123456789Z");
    const odd = b.build(msg("{}", { reply: "not-a-reply" }));
    expect(JSON.parse(text(odd))._meta.timestamp).toBe(timestampText(NANOS));
    const early = { ...msg("{}", { reply: `$JS.ACK.orders.oc_1.1.7.7.5.0` }), timestampNanos: 5n } as unknown as StreamMessage;
    expect(JSON.parse(text(b.build(early)))._meta.timestamp).toBe("1970-01-01T00:00:00.000000005Z");
    // Seconds change between messages.
    // Where the reader says the token lies.
    const r = `$JS.ACK.orders.oc_1.1.7.7.${NANOS}.0`;
    const at = r.indexOf(String(NANOS));
    expect(text(b.build({ ...msg("{}", { reply: r }), tsFrom: at, tsTo: at + 19 } as StreamMessage))).toBe(text(old));
    expect(JSON.parse(text(b.build({ ...msg("{}", { reply: r }), tsFrom: 0, tsTo: 7 } as StreamMessage)))._meta.timestamp).toBe(timestampText(NANOS));
    const later = b.build(msg("{}", { reply: `$JS.ACK._.H.orders.oc_1.1.7.7.${NANOS + 2_000_000_000n}.0` }));
    expect(JSON.parse(text(later))._meta.timestamp).toBe("2025-12-06T19:24:48.123456789Z");
  });
});

describe("keyCheck", () => {
  it("checks nothing for _meta fields every document has", () => {
    expect(keyCheck(["/_meta/seq"])).toBeUndefined();
  });

  it("fails naming the message, never its contents, when a key is missing", () => {
    const b = new DocumentBuilder("orders");
    const check = keyCheck(["/order/id", "/_meta/headers/Id"])!;
    const ok = msg('{"order": {"id": 1}}', { hdrs: { Id: ["x"] } });
    check(ok, "orders", b.build(ok), b.kind);
    const secret = msg('{"secret": "do-not-show"}', { hdrs: { Id: ["x"] } });
    expect(() => check(secret, "orders", b.build(secret), b.kind)).toThrow(/^message 7 of stream orders \(subject orders.eu\) has no value at the collection key \/order\/id$/);
    const scalar = msg("[1]", { hdrs: { Id: ["x"] } });
    expect(() => check(scalar, "orders", b.build(scalar), b.kind)).toThrow(/its payload is not a JSON object/);
  });
});

/**
 * The document as a general text path writes it: the payload decoded and
 * classified by JSON.parse, `_meta` by JSON.stringify, the timestamp through
 * the client's nanoseconds.
 */
function reference(stream: string, m: StreamMessage): string {
  let payload: string | undefined;
  try {
    payload = decoder.decode(m.data);
  } catch {
    payload = undefined;
  }
  const headers: Record<string, string | string[]> = {};
  for (const k of m.headers?.keys() ?? []) {
    const vs = m.headers!.values(k);
    headers[k] = vs.length === 1 ? vs[0]! : vs;
  }
  const fields = { stream, seq: m.seq, subject: m.subject, timestamp: timestampText(m.timestampNanos), ...(Object.keys(headers).length ? { headers } : {}) };
  const head = `{"_meta":${JSON.stringify(fields)}`;
  const kind = payload === undefined ? NOT_JSON : jsonKindOf(payload);
  if (kind === OBJECT) return `${head},${payload!.replace(/^[ \t\r\n]*\{/, "")}`;
  if (kind === EMPTY_OBJECT) return `${head}}`;
  if (kind === OTHER_JSON) return `${head},"value":${payload!.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, "")}}`;
  if (kind === OBJECT_WITH_META) {
    const rest = membersWithoutMeta(payload!);
    return rest ? `${head},${rest}}` : `${head}}`;
  }
  const contentType = m.headers?.get("Content-Type") || (payload === undefined ? "application/octet-stream" : "text/plain; charset=utf-8");
  return `${head},"data":"${Buffer.from(m.data).toString("base64")}","contentType":${JSON.stringify(contentType)}}`;
}

describe("DocumentBuilder bytes", () => {

  it("equal the general text path's on edge cases, and stay as built", () => {
    const big = JSON.stringify({ blob: "é😀x".repeat(400_000), n: 12345678901234567890123 });
    const cases: [string | Uint8Array, Parameters<typeof msg>[1]?][] = [
      ['{"a":1}'], [' \r\n\t{"a": "é😀\u2028\\n\\u0000"} \n'], ["{}"], [" { \n } "], ["[]"], ['"só"'], [" -0.5e-300 "], ["12345678901234567890123"],
      ["true"], ["null"], ['{"_meta":{"seq":1},"x":[{"_meta":2}]}'], ['{"\\u005fmeta":1}'], ['{"_meta":1}'], [""], [" "], ["{"], ['{"a":1}x'],
      ["plain text é"], ["\ufeff{}"], [new Uint8Array([0xff, 0xfe, 0])], [new Uint8Array([0xc3])], ["{oops", { hdrs: { "Content-Type": ["application/x-\"q\""] } }],
      ['{"a":1}', { hdrs: { "X-One": ["é 😀"], "X-Many": ["a", 'b"\\'], "Content-Type": ["application/json"] } }],
      ['{"a":1}', { subject: "orders.é.😀.\"q\"", seq: 1 }], ['{"a":1}', { seq: Number.MAX_SAFE_INTEGER }], ["[1]", { seq: 0 }],
      ['{"a":1}', { nanos: 5n }], ['{"a":1}', { nanos: 999_999_999_999_999_999_999n }], ['{"a":1}', { reply: "not-a-reply" }], ['{"a":1}', { reply: "$JS.ACK.orders.oc_1.1.7.7.12x.0" }],
      [big], [`[${big}]`], [`{"_meta":0,${big.slice(1)}`],
    ];
    const b = new DocumentBuilder('or"dé');
    const built: [RawJsonBytes, string][] = [];
    for (const [data, o] of cases) {
      const m = msg(data, o);
      const doc = b.build(m);
      const want = reference('or"dé', m);
      expect(Buffer.from(doc.bytes).equals(Buffer.from(want)), want.slice(0, 200)).toBe(true);
      built.push([doc, want]);
    }
    // Later documents never write over earlier ones.
    for (const [doc, want] of built) expect(text(doc)).toBe(want);
  });

  it("equal the general text path's on seeded random messages", () => {
    const r = rng(1606);
    const b = new DocumentBuilder("orders");
    const subjects = ["orders.eu", "orders.é", "o.😀", 'o."x"', "o.\\"];
    const built: [RawJsonBytes, string][] = [];
    for (let k = 0; k < 4000; k++) {
      let data: string | Uint8Array = randomJson(r);
      const roll = r(10);
      if (roll === 0) data = data.slice(0, r(data.length + 1)); // often not JSON any more
      else if (roll === 1) data = Uint8Array.from({ length: r(40) }, () => r(256));
      else if (roll === 2) data = " ".repeat(r(3)) + `{"_meta":${randomJson(r)},"k":${randomJson(r)}}`;
      else if (roll === 3) data = "\r\n\t ".slice(r(4)) + data + " \n".slice(r(3));
      const hdrs: Record<string, string[]> | undefined = r(3) === 0 ? { "X-A": [randomJson(r, 5)], ...(r(2) ? { "X-B": ["1", "é"] } : {}), ...(r(4) === 0 ? { "Content-Type": ["text/x"] } : {}) } : undefined;
      const seq = r(3) === 0 ? r(2 ** 31) * 2 ** 21 + r(2 ** 21) : 1 + r(1000);
      const nanos = BigInt(1 + r(2 ** 31)) * 1_000_000_000n + BigInt(r(1_000_000_000));
      const m = msg(data, { seq, subject: subjects[r(subjects.length)]!, nanos, ...(hdrs ? { hdrs } : {}) });
      const doc = b.build(m);
      const want = reference("orders", m);
      expect(Buffer.from(doc.bytes).equals(Buffer.from(want)), want.slice(0, 200)).toBe(true);
      built.push([doc, want]);
    }
    for (const [doc, want] of built) expect(text(doc)).toBe(want);
  });
});
