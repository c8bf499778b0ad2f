/**
 * DocBytes batches: documents gathered into a batch come out whole and in
 * order, with their ends, however often a chunk fills up mid-batch (the
 * unsent batch moves with the document being written); a batch taken
 * earlier is never written again; a dropped batch leaves nothing behind.
 */
import { describe, expect, it } from "vitest";
import { DocBytes } from "./doc-bytes.js";
import { rng } from "../../test/support/rng.js";

function split(bytes: Uint8Array, ends: Int32Array, count: number): string[] {
  const out: string[] = [];
  let from = 0;
  for (let k = 0; k < count; k++) {
    out.push(Buffer.from(bytes.subarray(from, ends[k])).toString("latin1"));
    from = ends[k]!;
  }
  expect(from).toBe(bytes.length);
  return out;
}

describe("DocBytes batches", () => {
  it("hand out every document of a batch whole, across chunk changes, and never rewrite a taken batch", () => {
    const r = rng(77);
    const d = new DocBytes();
    const taken: Array<{ bytes: Uint8Array; docs: string[] }> = [];
    let pending: string[] = [];
    d.openBatch();
    for (let i = 0; i < 5000; i++) {
      // Mostly small documents, some larger than a chunk, written in pieces as the writers do.
      const len = r(40) === 0 ? 300_000 + r(300_000) : r(900);
      const doc = String.fromCharCode(0x61 + (i % 26)).repeat(len) + `#${i}`;
      d.begin();
      if (r(5) === 0) {
        // Discarded first (a general-path row), then written again.
        d.ascii("garbage".repeat(r(50)));
        d.discard();
      }
      const half = doc.length >> 1;
      d.ascii(doc.slice(0, half));
      d.bytes(Buffer.from(doc.slice(half), "latin1"));
      d.endInBatch();
      pending.push(doc);
      if (r(30) === 0 || d.batchBytes > 100_000) {
        const b = d.takeBatch();
        expect(b.count).toBe(pending.length);
        expect(split(b.bytes, b.ends, b.count)).toEqual(pending);
        taken.push({ bytes: b.bytes, docs: pending });
        pending = [];
      }
    }
    const last = d.takeBatch();
    expect(split(last.bytes, last.ends, last.count)).toEqual(pending);
    d.closeBatch();
    // Every batch taken is still as it was when taken.
    for (const t of taken) expect(Buffer.from(t.bytes).toString("latin1")).toBe(t.docs.join(""));
  });

  it("drops an unsent batch, and refuses to close one with documents in it", () => {
    const d = new DocBytes();
    d.begin();
    d.ascii("kept");
    const kept = d.end();
    d.openBatch();
    d.begin();
    d.ascii("unsent");
    d.endInBatch();
    expect(() => d.closeBatch()).toThrow(/closed unsent/);
    d.dropBatch();
    expect(d.pos).toBe(4);
    d.begin();
    d.ascii("next");
    expect(Buffer.from(kept).toString()).toBe("kept");
    expect(Buffer.from(d.end()).toString()).toBe("next");
  });
});
