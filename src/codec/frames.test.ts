import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FrameDecoder, FrameWriter, readFrameBatches, readFrames } from "./frames.js";
import type { WireCodec } from "./wire.js";

const PAYLOADS = ['{"a":1}', "", "x", '{"doc":"' + "é".repeat(300) + '"}', "[1,2,3]"].map((s) => Buffer.from(s));

function framed(wire: WireCodec, payloads: Uint8Array[]): Buffer {
  const w = new FrameWriter(wire);
  for (const p of payloads) w.append(p);
  return w.take();
}

function decodeAll(wire: WireCodec, chunks: Uint8Array[]): string[] {
  const d = new FrameDecoder(wire);
  const out: string[] = [];
  for (const c of chunks) for (const f of d.push(c)) out.push(Buffer.from(f).toString());
  d.finish();
  return out;
}

describe("FrameWriter", () => {
  it("frames protobuf payloads with a little-endian length", () => {
    const w = new FrameWriter("proto");
    w.append(Buffer.from("hi"));
    w.append(new Uint8Array(0));
    expect(w.size).toBe(10);
    expect(w.take().toString("hex")).toBe("02000000" + "6869" + "00000000");
    expect(w.size).toBe(0);
    expect(w.take().length).toBe(0);
  });

  it("terminates JSON payloads with a newline", () => {
    const w = new FrameWriter("json");
    w.append(Buffer.from("{}"));
    w.append(Buffer.from("[1]"));
    expect(w.take().toString()).toBe("{}\n[1]\n");
  });

  it("keeps taken buffers intact while appending more, across growth", () => {
    const w = new FrameWriter("proto");
    const batches: Buffer[] = [];
    const expected: string[] = [];
    for (let batch = 0; batch < 5; batch++) {
      for (let i = 0; i < 3000; i++) {
        const p = Buffer.from(`doc-${batch}-${i}-${"z".repeat(i % 50)}`);
        expected.push(p.toString());
        w.append(p);
      }
      batches.push(w.take());
    }
    w.append(Buffer.from("late")); // must not overwrite earlier batches
    expect(decodeAll("proto", batches)).toEqual(expected);
  });
});

describe("FrameDecoder", () => {
  for (const wire of ["proto", "json"] as WireCodec[]) {
    const expected = wire === "json" ? PAYLOADS.filter((p) => p.length > 0).map(String) : PAYLOADS.map(String);

    it(`${wire}: decodes frames split at every byte boundary`, () => {
      const all = framed(wire, PAYLOADS);
      for (let cut = 0; cut <= all.length; cut++) {
        expect(decodeAll(wire, [all.subarray(0, cut), all.subarray(cut)])).toEqual(expected);
      }
      for (let a = 1; a < all.length; a += 7) {
        for (let b = a; b < all.length; b += 13) {
          expect(decodeAll(wire, [all.subarray(0, a), all.subarray(a, b), all.subarray(b)])).toEqual(expected);
        }
      }
    });

    it(`${wire}: decodes a byte at a time`, () => {
      const all = framed(wire, PAYLOADS);
      const bytes = [...all].map((b) => Uint8Array.of(b));
      expect(decodeAll(wire, bytes)).toEqual(expected);
    });

    it(`${wire}: reports a partial frame at the end of input`, () => {
      const all = framed(wire, [Buffer.from('{"complete":true}'), Buffer.from('{"partial":1}')]);
      for (const cut of [1, 3, 5, 12]) {
        const d = new FrameDecoder(wire);
        const frames = d.push(all.subarray(0, all.length - cut));
        expect(frames.map(String)).toEqual(['{"complete":true}']);
        expect(() => d.finish()).toThrow(wire === "proto" ? /input ended inside a protobuf frame: got/ : /input ended inside a JSON line: \d+ bytes without a terminating newline/);
      }
    });
  }

  it("proto: names the header when the input stops inside the length prefix", () => {
    const d = new FrameDecoder("proto");
    d.push(Uint8Array.of(5, 0));
    expect(() => d.finish()).toThrow("input ended inside a protobuf frame: got 2 of 4 length-prefix bytes");
    const e = new FrameDecoder("proto");
    e.push(Uint8Array.of(5, 0, 0, 0, 1, 2));
    expect(() => e.finish()).toThrow("input ended inside a protobuf frame: got 2 of 5 payload bytes");
  });

  it("json: tolerates CRLF and skips blank lines", () => {
    const input = Buffer.from('\n{"a":1}\r\n\r\n  \n{"b":2}\n\t\r\n');
    for (let cut = 0; cut <= input.length; cut++) {
      expect(decodeAll("json", [input.subarray(0, cut), input.subarray(cut)])).toEqual(['{"a":1}', '{"b":2}']);
    }
    const d = new FrameDecoder("json");
    d.push(Buffer.from('{"a":1}\n   '));
    expect(() => d.finish()).not.toThrow(); // trailing whitespace is not a frame
  });

  it("refuses frames beyond the limit", () => {
    const d = new FrameDecoder("proto", 1024);
    expect(() => d.push(Uint8Array.of(0x01, 0x04, 0, 0))).toThrow(/frame of 1025 bytes exceeds the 1024-byte limit/);
    // No hint for binary garbage, one naming the JSON codec for JSON text.
    expect(() => d.push(Uint8Array.of(0x01, 0x04, 0, 0))).not.toThrow(/looks like JSON/);
    const asJson = new FrameDecoder("proto");
    expect(() => asJson.push(Buffer.from('{"spec":{"connectorType":"IMAGE","config":{}}}\n'))).toThrow(
      /protobuf frame of 1886593659 bytes exceeds .*; the input looks like JSON: for Flow's JSON codec set FLOW_RUNTIME_CODEC=json/,
    );
    const j = new FrameDecoder("json", 16);
    j.push(Buffer.from("0123456789"));
    expect(() => j.push(Buffer.from("0123456789"))).toThrow(/JSON line longer than the 16-byte limit/);
  });

  for (const wire of ["proto", "json"] as WireCodec[]) {
    it(`${wire}: carries a 64 MiB frame arriving in 64 KiB chunks`, () => {
      const size = 64 * 1024 * 1024;
      const payload = Buffer.alloc(size, 0x61); // "aaaa…" is valid as a JSON-lines payload
      payload[0] = 0x22;
      payload[size - 1] = 0x22;
      const all = framed(wire, [payload, Buffer.from('"tail"')]);
      const d = new FrameDecoder(wire);
      const frames: Uint8Array[] = [];
      for (let i = 0; i < all.length; i += 65536) frames.push(...d.push(all.subarray(i, i + 65536)));
      d.finish();
      expect(frames.length).toBe(2);
      expect(frames[0]!.length).toBe(size);
      expect(Buffer.from(frames[0]!).equals(payload)).toBe(true);
      expect(Buffer.from(frames[1]!).toString()).toBe('"tail"');
    });
  }
});

describe("readFrames over a real pipe", () => {
  const dir = mkdtempSync(join(tmpdir(), "tributary-frames-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const wire of ["proto", "json"] as WireCodec[]) {
    it(`${wire}: yields every frame written by another process`, async () => {
      const payloads = Array.from({ length: 20000 }, (_, i) => Buffer.from(`{"n":${i},"pad":"${"p".repeat(i % 97)}"}`));
      const file = join(dir, `frames.${wire}`);
      writeFileSync(file, framed(wire, payloads));
      const child = spawn("cat", [file], { stdio: ["ignore", "pipe", "inherit"] });
      const got: string[] = [];
      for await (const f of readFrames(child.stdout, wire)) got.push(Buffer.from(f).toString());
      expect(got.length).toBe(payloads.length);
      expect(got[12345]).toBe(payloads[12345]!.toString());
      expect(got).toEqual(payloads.map(String));

      const again = spawn("cat", [file], { stdio: ["ignore", "pipe", "inherit"] });
      const batched: string[] = [];
      let batches = 0;
      for await (const batch of readFrameBatches(again.stdout, wire)) {
        expect(batch.length).toBeGreaterThan(0);
        batches++;
        for (const f of batch) batched.push(Buffer.from(f).toString());
      }
      expect(batched).toEqual(got);
      expect(batches).toBeLessThan(payloads.length / 10); // many frames per pipe read
    });

    it(`${wire}: fails when the pipe closes mid-frame`, async () => {
      const file = join(dir, `cut.${wire}`);
      const all = framed(wire, [Buffer.from('{"a":1}'), Buffer.from('{"b":2}')]);
      writeFileSync(file, all.subarray(0, all.length - 2));
      const child = spawn("cat", [file], { stdio: ["ignore", "pipe", "inherit"] });
      const got: string[] = [];
      await expect(
        (async () => {
          for await (const f of readFrames(child.stdout, wire)) got.push(Buffer.from(f).toString());
        })(),
      ).rejects.toThrow(/input ended inside a/);
      expect(got).toEqual(['{"a":1}']);
    });
  }
});
