/**
 * Combines the documents of one transaction by (binding, key), reducing each
 * newer document into the older one. Drains in binding, then packed-key
 * order, as Flow's combiner does.
 */
import type { Shape } from "./schema-shape.js";
import { locate } from "./schema-shape.js";
import { getAt, parsePointer } from "./json-pointer.js";
import { packTuple } from "./tuple.js";
import { reduce } from "./reduce.js";

export interface KeyExtractor {
  /** Key values of `doc`, or a string naming the missing key location. */
  (doc: unknown): unknown[] | string;
}

export function keyExtractor(keyPtrs: string[], shape: Shape): KeyExtractor {
  const parsed = keyPtrs.map((p) => {
    const tokens = parsePointer(p);
    const { shape: at } = locate(shape, tokens);
    return { ptr: p, tokens, hasDefault: at.hasDefault, default: at.default };
  });
  return (doc) => {
    const out: unknown[] = [];
    for (const k of parsed) {
      let v = getAt(doc, k.tokens);
      if (v === undefined) {
        if (!k.hasDefault) return k.ptr;
        v = k.default;
      }
      out.push(v);
    }
    return out;
  };
}

export interface Combined {
  binding: number;
  key: unknown[];
  packed: Uint8Array;
  doc: unknown;
  /** Set by the materialize runtime when the key was loaded from the destination. */
  loaded?: boolean;
}

export class Combiner {
  private readonly entries = new Map<string, Combined>();

  constructor(private readonly shapes: Shape[]) {}

  get size(): number {
    return this.entries.size;
  }

  static id(binding: number, packed: Uint8Array): string {
    return binding + ":" + Buffer.from(packed.buffer, packed.byteOffset, packed.length).toString("latin1");
  }

  get(binding: number, packed: Uint8Array): Combined | undefined {
    return this.entries.get(Combiner.id(binding, packed));
  }

  /** Adds a newer document; returns true when the key is new to this transaction. */
  add(binding: number, key: unknown[], doc: unknown, packed: Uint8Array = packTuple(key)): boolean {
    const id = Combiner.id(binding, packed);
    const prev = this.entries.get(id);
    if (prev) {
      prev.doc = reduce(this.shapes[binding], prev.doc, doc);
      return false;
    }
    this.entries.set(id, { binding, key, packed, doc });
    return true;
  }

  /** Reduces a document loaded from the destination *under* the combined one. */
  addLoaded(binding: number, packed: Uint8Array, doc: unknown): void {
    const e = this.entries.get(Combiner.id(binding, packed));
    if (!e) return;
    e.doc = reduce(this.shapes[binding], doc, e.doc);
    e.loaded = true;
  }

  /** Entries in binding, then packed-key order (the combiner keeps them). */
  sorted(): Combined[] {
    const all = [...this.entries.values()];
    all.sort((a, b) => a.binding - b.binding || Buffer.compare(a.packed, b.packed));
    return all;
  }

  drain(): Combined[] {
    const all = this.sorted();
    this.entries.clear();
    return all;
  }
}
