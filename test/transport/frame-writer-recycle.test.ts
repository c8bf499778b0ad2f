/**
 * FrameWriter.recycle: a large batch's buffer given back after its write is
 * where the next large batch is written (no fresh memory), every batch
 * still decodes to its payloads; small batches (copied out) and buffers
 * take() did not hand over are not taken back.
 */
import { describe, expect, it } from "vitest";
import { FrameDecoder, FrameWriter } from "../../src/codec/frames.js";

const payload = (i: number) => Buffer.from(`{"i":${i},"s":"${"x".repeat(i % 300)}"}`);

describe("FrameWriter.recycle", () => {
  it("writes the next large batch into the buffer given back, frames intact", () => {
    const w = new FrameWriter("proto");
    let i = 0;
    const fill = () => {
      const sent: string[] = [];
      while (w.size < 1 << 20) {
        const p = payload(i++);
        sent.push(p.toString());
        w.append(p);
      }
      return sent;
    };
    const s1 = fill();
    const b1 = w.take();
    expect(new FrameDecoder("proto").push(b1).map((f) => Buffer.from(f).toString())).toEqual(s1);
    const s2 = fill();
    const b2 = w.take();
    // Not given back yet: b2 is other memory than b1.
    expect(b2.buffer).not.toBe(b1.buffer);
    w.recycle(b1);
    const s3 = fill();
    const b3 = w.take();
    expect(new FrameDecoder("proto").push(b2).map((f) => Buffer.from(f).toString())).toEqual(s2);
    const s4 = fill();
    const b4 = w.take();
    // The batch after the give-back was written into b1's memory.
    expect(b4.buffer).toBe(b1.buffer);
    expect(new FrameDecoder("proto").push(b3).map((f) => Buffer.from(f).toString())).toEqual(s3);
    expect(new FrameDecoder("proto").push(b4).map((f) => Buffer.from(f).toString())).toEqual(s4);
  });

  it("takes back only working buffers that take() handed over", () => {
    const w = new FrameWriter("json");
    w.append(Buffer.from('{"a":1}'));
    const small = w.take(); // copied out of the working buffer
    w.recycle(small);
    const foreign = Buffer.allocUnsafe(4 << 20);
    w.recycle(foreign);
    while (w.size < 1 << 20) w.append(payload(7));
    const first = w.take();
    while (w.size < 1 << 20) w.append(payload(8));
    const next = w.take();
    expect(next.buffer).not.toBe(small.buffer);
    expect(next.buffer).not.toBe(foreign.buffer);
    expect(next.buffer).not.toBe(first.buffer);
    expect(next.toString().split("\n").filter(Boolean).every((l) => l === payload(8).toString())).toBe(true);
  });
});
