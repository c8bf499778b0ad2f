import { describe, expect, it } from "vitest";
import { PassThrough, Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { RequestSchema, ResponseSchema } from "../../src/gen/capture/capture_pb.js";
import { messageCodec } from "../../src/codec/wire.js";
import { FrameDecoder, FrameWriter } from "../../src/codec/frames.js";
import { resourceCapture } from "../../src/sdk/resources.js";
import { RawJson, RawJsonBytes } from "../../src/sdk/types.js";
import { runStdio } from "../../src/transport/stdio.js";
import { createLogger } from "../../src/log.js";
import { collectedStdout } from "../support/collected-stdout.js";

const DOC = new RawJson(JSON.stringify({ id: 1, text: "x".repeat(200) }));
const PAGE = Array.from({ length: 500 }, () => DOC);

/** A capture of one resource "docs" whose pages come from `fetchChanges`. */
function oneResource(name: string, fetchChanges: (n: number) => Promise<{ docs: (RawJson | RawJsonBytes)[]; cursor: number; caughtUp: boolean }>) {
  return resourceCapture<Record<string, never>, { name: string }>({
    name,
    documentationUrl: "https://example.com",
    configSchema: { type: "object" },
    resources: () => [{ name: "docs", key: ["/id"], schema: { type: "object" }, initialCursor: () => 0, fetchChanges }],
  });
}

/** A capture that emits documents forever, counting them. */
function endless(counter: { docs: number }) {
  return oneResource("endless", async (n) => {
    counter.docs += PAGE.length;
    return { docs: PAGE, cursor: n + PAGE.length, caughtUp: false };
  });
}

function openFrame(wire: "proto" | "json"): Uint8Array {
  const enc = new TextEncoder();
  const w = new FrameWriter(wire);
  w.append(
    messageCodec(RequestSchema, wire).encode(
      create(RequestSchema, {
        open: {
          capture: {
            name: "t/endless",
            configJson: enc.encode("{}"),
            bindings: [{ resourceConfigJson: enc.encode('{"name":"docs"}'), resourcePath: ["docs"], stateKey: "docs", collection: { name: "t/docs", key: ["/id"] } }],
          },
        },
      }),
    ),
  );
  return w.take();
}

/** Resolves once `read()` has returned the same value for `polls` polls in a row. */
async function settled(read: () => number, polls = 20): Promise<number> {
  let last = -1;
  let same = 0;
  for (;;) {
    const now = read();
    same = now === last ? same + 1 : 0;
    last = now;
    if (same >= polls) return now;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each(["proto", "json"] as const)("stdio output against a reader that stops (%s)", (wire) => {
  it("stops the connector with a bounded amount of output in memory, and resumes when the reader does", async () => {
    const counter = { docs: 0 };
    let accepted = 0;
    let held: (() => void)[] = [];
    // A pipe whose reader has stopped: nothing written completes until released.
    const stdout = new Writable({
      write(chunk: Buffer, _enc, cb) {
        accepted += chunk.length;
        held.push(() => cb());
      },
    });
    const stdin = new PassThrough();
    stdin.write(openFrame(wire));
    const ac = new AbortController();
    const done = runStdio(endless(counter), { stdin, stdout, env: { FLOW_RUNTIME_CODEC: wire }, log: createLogger({ level: "error" }), signal: ac.signal });

    const stuck = await settled(() => counter.docs);
    // What was produced is what the transport holds: one batch being written,
    // the batches queued behind it, and the one being filled (a few MiB).
    const produced = stuck * DOC.text.length;
    expect(produced).toBeLessThan(8 * 1024 * 1024);
    expect(accepted).toBeGreaterThan(0);

    // Releasing the reader lets the connector go on.
    const resumeFrom = counter.docs;
    const release = setInterval(() => {
      for (const cb of held.splice(0)) cb();
    }, 1);
    while (counter.docs < resumeFrom + 20_000) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    stdin.end();
    expect(await done).toBe(0);
    clearInterval(release);
    for (const cb of held.splice(0)) cb();
  });
});

describe("stdio output framing across batches", () => {
  it("delivers every frame whole and in order when batches overlap in flight", async () => {
    const counter = { docs: 0 };
    const dec = new FrameDecoder("proto");
    const codec = messageCodec(ResponseSchema, "proto");
    let captured = 0;
    let checkpoints = 0;
    let bad = 0;
    const stdin = new PassThrough();
    stdin.write(openFrame("proto"));
    const ac = new AbortController();
    const stdout = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const f of dec.push(chunk)) {
          const res = codec.decode(f);
          if (res.captured) {
            captured++;
            if (res.captured.docJson !== DOC.text) bad++;
          } else if (res.checkpoint) checkpoints++;
        }
        if (captured >= 30_000) ac.abort();
        // Complete writes a turn later, as a pipe does, so several stay in flight.
        setImmediate(cb);
      },
    });
    const code = await runStdio(endless(counter), { stdin, stdout, env: { FLOW_RUNTIME_CODEC: "proto" }, log: createLogger({ level: "error" }), signal: ac.signal });
    stdin.end();
    expect(code).toBe(0);
    expect(bad).toBe(0);
    expect(captured).toBeGreaterThanOrEqual(30_000);
    expect(checkpoints).toBeGreaterThan(0);
    expect(dec.pending).toBe(0);
  });
});

/** The documents as UTF-8 bytes: subarrays of one buffer, as a connector writing rows into a chunk gives them. */
function asBytes(docs: string[]): RawJsonBytes[] {
  const all = Buffer.from(docs.join(""), "utf8");
  let at = 0;
  return docs.map((d) => {
    const n = Buffer.byteLength(d, "utf8");
    return new RawJsonBytes(all.subarray(at, (at += n)));
  });
}

describe.each([
  ["proto", "RawJson"],
  ["json", "RawJson"],
  ["proto", "RawJsonBytes"],
  ["json", "RawJsonBytes"],
] as const)("stdio Captured frames (%s, documents as %s)", (wire, form) => {
  it("are the bytes the generic encoder makes, for plain and for multi-line JSON text", async () => {
    const docs = ['{"a":1,"s":"é ✓"}', '{\n  "b": [1, 2]\n}', " [3]", "{}"];
    const given = form === "RawJson" ? docs.map((d) => new RawJson(d)) : asBytes(docs);
    const capture = oneResource("few", async (n) => ({ docs: n === 0 ? given : [], cursor: n + 1, caughtUp: true }));
    const { stdout, chunks } = collectedStdout();
    const ac = new AbortController();
    const stdin = new PassThrough();
    stdin.write(openFrame(wire));
    const done = runStdio(capture, { stdin, stdout, env: { FLOW_RUNTIME_CODEC: wire }, log: createLogger({ level: "error" }), signal: ac.signal });
    const codec = messageCodec(ResponseSchema, wire);
    const dec = new FrameDecoder(wire);
    const frames: Uint8Array[] = [];
    while (frames.filter((f) => codec.decode(f).captured).length < docs.length) {
      await new Promise((r) => setTimeout(r, 10));
      for (const c of chunks.splice(0)) frames.push(...dec.push(c));
    }
    ac.abort();
    stdin.end();
    expect(await done).toBe(0);
    const captured = frames.filter((f) => codec.decode(f).captured).map((f) => Buffer.from(f).toString("hex"));
    // The generic path: the message object through the codec's generic encoder.
    const expected = docs.map((d) => Buffer.from(codec.encode(create(ResponseSchema, { captured: { binding: 0, docJson: d } }))).toString("hex"));
    expect(captured).toEqual(expected);
  });
});
