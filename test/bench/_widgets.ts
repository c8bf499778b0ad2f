/**
 * The SQL materialization benches' workload: sizes from BENCH_DOCS,
 * BENCH_TXN and BENCH_LOAD_KEYS, the widgets collection (an integer key and
 * seven typed fields), and the rows each transaction stores. Shared so the
 * engines' numbers compare like for like.
 */
import { collection, ROOT } from "../../src/sql/test-fixtures.js";

export const DOCS = Number(process.env.BENCH_DOCS ?? 1_000_000);
export const TXN = Number(process.env.BENCH_TXN ?? 50_000);
export const LOAD_KEYS = Number(process.env.BENCH_LOAD_KEYS ?? 100_000);
export const SEED = Math.max(Math.ceil(DOCS / 2), LOAD_KEYS);

export const FIELDS = ["name", "price", "qty", "active", "created_at", "category", "note"];
export const coll = collection("bench/widgets", [
  { field: "id", types: ["integer"], key: true },
  { field: "name", types: ["string"], must: true },
  { field: "price", types: ["number"], must: true },
  { field: "qty", types: ["integer"], must: true },
  { field: "active", types: ["boolean"], must: true },
  { field: "created_at", types: ["string"], format: "date-time", must: true },
  { field: "category", types: ["string"], must: true },
  { field: "note", types: ["string"], must: true },
  ROOT,
]);
const CATEGORIES = ["tools", "garden", "kitchen", "toys", "books", "audio", "sports"];
const NOTE = "The quick brown fox jumps over the lazy dog while the widget factory hums along";

export interface Row {
  id: number;
  values: unknown[];
  doc: string;
}

export function row(id: number, version: number): Row {
  const values = [
    `widget ${id} rev ${version}`,
    Math.round((id % 10_000) * 1.37 * 100) / 100 + version,
    (id * 7 + version) % 1000,
    (id + version) % 3 !== 0,
    new Date(Date.UTC(2024, 0, 1) + id * 1000 + version).toISOString(),
    CATEGORIES[id % CATEGORIES.length],
    `${NOTE} #${version}`,
  ];
  const doc = JSON.stringify({ id, ...Object.fromEntries(FIELDS.map((f, i) => [f, values[i]])) });
  return { id, values, doc };
}

/** Transaction `t`: half new keys after the seeded range, half updates of seeded keys. */
export function transactionRows(t: number, size: number): Row[] {
  const rows: Row[] = [];
  const half = Math.floor(size / 2);
  for (let i = 0; i < half; i++) rows.push(row(SEED + t * half + i + 1, t + 1));
  for (let i = 0; i < size - half; i++) rows.push(row(((t * (size - half) + i) % SEED) + 1, t + 1));
  // The runtime sends a transaction's stores in key order.
  return rows.sort((a, b) => a.id - b.id);
}
