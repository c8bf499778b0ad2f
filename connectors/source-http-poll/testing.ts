/**
 * Test helpers: resource definitions for each pagination style of
 * test-server.ts, a catalog capturing them through `tributary run
 * source-http-poll` (the image name maps to the registry), and checks of
 * what a preview committed.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ItemServer } from "./test-server.js";

export const STYLES = ["cursor", "page", "link"] as const;
export type Style = (typeof STYLES)[number];

/** The resource definition reading the server's listing paginated in `style`. */
export function resourceFor(style: Style, incremental = false, name: string = style): Record<string, unknown> {
  const base = {
    cursor: { path: "/cursor/items", records: "/data", pagination: { type: "cursor", next_pointer: "/meta/next", param: "after" } },
    page: { path: "/page/items", records: "/items", pagination: { type: "page", size: 5 } },
    link: { path: "/link/items", pagination: { type: "link" } },
  }[style];
  return { name, ...base, ...(incremental ? { cursor: { field: "/updated", param: "since" } } : {}) };
}

const itemSchema = {
  type: "object",
  properties: { id: { type: "integer" }, updated: { type: "integer" }, v: { type: "string" } },
  required: ["id", "updated", "v"],
};

/** A catalog with one binding per resource, each into collection acmeCo/<name>; returns its path. */
export function catalogFor(server: ItemServer, resources: Record<string, unknown>[], config: Record<string, unknown> = {}, backfill = 0): string {
  const dir = mkdtempSync(join(tmpdir(), "http-poll-"));
  const path = join(dir, "flow.json");
  const collections = Object.fromEntries(resources.map((r) => [`acmeCo/${r.name}`, { schema: itemSchema, key: ["/id"] }]));
  const endpointConfig = { base_url: server.baseUrl, auth_header: "X-Api-Key", auth_value: server.apiKey, bounded: true, poll_interval_seconds: 0.2, ...config };
  writeFileSync(
    path,
    JSON.stringify({
      collections,
      captures: {
        "acmeCo/http": {
          endpoint: { connector: { image: "ghcr.io/tributary-dev/source-http-poll:dev", config: endpointConfig } },
          bindings: resources.map((r) => ({ resource: r, target: `acmeCo/${r.name}`, backfill })),
        },
      },
    }),
  );
  return path;
}

/** The ids committed, in order (with repeats). */
export const idsOf = (docs: [string, unknown][]) => docs.map(([, d]) => (d as { id: number }).id);

/** The committed documents reduced by key (last wins), sorted by id. */
export function reduced(docs: [string, unknown][]): unknown[] {
  const byId = new Map<number, unknown>();
  for (const [, d] of docs) byId.set((d as { id: number }).id, d);
  return [...byId.entries()].sort(([a], [b]) => a - b).map(([, d]) => d);
}
