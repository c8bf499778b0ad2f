/**
 * The document builder on messages made here (no server): each payload kind,
 * `_meta` text equal to JSON.stringify of the same fields, timestamps read
 * from either reply-subject form and the client's parser for anything else.
 */
import { describe, expect, it } from "vitest";
import { headers as natsHeaders } from "@nats-io/transport-node";
import type { JsMsg } from "@nats-io/jetstream";
import { DocumentBuilder, keyCheck, timestampText } from "./documents.js";
import { OBJECT, OTHER_JSON } from "./json-check.js";

const NANOS = 1765049086123456789n;

function msg(data: string | Uint8Array, o: { seq?: number; subject?: string; reply?: string; hdrs?: Record<string, string[]> } = {}): JsMsg {
  const seq = o.seq ?? 7;
  const reply = o.reply ?? `$JS.ACK._.ACCHASH.orders.oc_1.1.${seq}.${seq}.${NANOS}.0.rAnD`;
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
    timestampNanos: NANOS,
  } as unknown as JsMsg;
}

const meta = (extra: Record<string, unknown> = {}) => ({ stream: "orders", seq: 7, subject: "orders.eu", timestamp: "2025-12-06T19:24:46.123456789Z", ...extra });

describe("DocumentBuilder", () => {
  const b = new DocumentBuilder("orders");

  it("puts _meta first in an object payload's own text, keeping every digit", () => {
    const doc = b.build(msg(' {"id": 12345678901234567890123, "n": [1, 2]} '));
    expect(b.kind).toBe(OBJECT);
    expect(doc.text).toBe(`{"_meta":${JSON.stringify(meta())},"id": 12345678901234567890123, "n": [1, 2]} `);
  });

  it("holds other JSON under value, and anything else as base64 with a content type", () => {
    expect(JSON.parse(b.build(msg(" [1, 2] ")).text)).toEqual({ _meta: meta(), value: [1, 2] });
    expect(b.kind).toBe(OTHER_JSON);
    expect(JSON.parse(b.build(msg("{}")).text)).toEqual({ _meta: meta() });
    expect(JSON.parse(b.build(msg("not json")).text)).toEqual({ _meta: meta(), data: Buffer.from("not json").toString("base64"), contentType: "text/plain; charset=utf-8" });
    expect(JSON.parse(b.build(msg(new Uint8Array([0xff, 0]))).text)).toEqual({ _meta: meta(), data: "/wA=", contentType: "application/octet-stream" });
    // A byte-order mark is not JSON whitespace: such a payload is text, as JSON.parse would say.
    expect(JSON.parse(b.build(msg("\ufeff{}")).text).contentType).toBe("text/plain; charset=utf-8");
    const typed = JSON.parse(b.build(msg("{oops", { hdrs: { "Content-Type": ["application/x-thing"] } })).text);
    expect(typed).toMatchObject({ data: Buffer.from("{oops").toString("base64"), contentType: "application/x-thing" });
  });

  it("replaces a payload's own _meta (however its key is escaped) with the connector's", () => {
    const m = `{"_meta":${JSON.stringify(meta())}`;
    expect(b.build(msg('{"a": 12345678901234567890123, "\\u005fmeta": {"x": [1]}, "b" : 2 }')).text).toBe(`${m},"a": 12345678901234567890123,"b" : 2}`);
    expect(b.build(msg('{"_meta": 1, "_meta": 2}')).text).toBe(`${m}}`);
    expect(b.build(msg(' { "_meta" : null , "z": true } ')).text).toBe(`${m},"z": true}`);
  });

  it("writes headers, subjects and streams as JSON.stringify would", () => {
    const odd = new DocumentBuilder('we"ird');
    const doc = odd.build(msg("{}", { subject: 'a."b\u2028', hdrs: { "X-One": ["1"], "X-Many": ["a", 'b"'] } }));
    expect(doc.text).toBe(`{"_meta":${JSON.stringify(meta({ stream: 'we"ird', subject: 'a."b\u2028', headers: { "X-One": "1", "X-Many": ["a", 'b"'] } }))}}`);
  });

  it("reads the timestamp from either reply form, else through the client", () => {
    const old = b.build(msg("{}", { reply: `$JS.ACK.orders.oc_1.1.7.7.${NANOS}.0` }));
    expect(JSON.parse(old.text)._meta.timestamp).toBe("2025-12-06T19:24:46.123456789Z");
    const odd = b.build(msg("{}", { reply: "not-a-reply" }));
    expect(JSON.parse(odd.text)._meta.timestamp).toBe(timestampText(NANOS));
    const early = { ...msg("{}", { reply: `$JS.ACK.orders.oc_1.1.7.7.5.0` }), timestampNanos: 5n } as unknown as JsMsg;
    expect(JSON.parse(b.build(early).text)._meta.timestamp).toBe("1970-01-01T00:00:00.000000005Z");
    // Seconds change between messages.
    const later = b.build(msg("{}", { reply: `$JS.ACK._.H.orders.oc_1.1.7.7.${NANOS + 2_000_000_000n}.0` }));
    expect(JSON.parse(later.text)._meta.timestamp).toBe("2025-12-06T19:24:48.123456789Z");
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
