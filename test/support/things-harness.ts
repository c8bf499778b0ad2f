/**
 * The "things" catalog the SQL materializations' harness tests share: one
 * collection (summed `n`, arrays, nested, date-time, numeric string, an odd
 * field name, _meta/op) bound twice, to a standard table `things` and a
 * delta-updates table `things_log`, run by the harness over stdio with the
 * protobuf codec from the connector's built main.js.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runMaterializePreview, type MaterializePreviewOptions } from "../../src/harness/materialize-runtime.js";
import { createLogger } from "../../src/log.js";

/** Writes flow.yaml for materialization `acmeCo/<task>` of connector `connector` (a folder under connectors/); returns its path. */
export function thingsCatalog(connector: string, task: string, config: Record<string, unknown>, tmpPrefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), tmpPrefix));
  const path = join(dir, "flow.yaml");
  writeFileSync(
    path,
    `collections:
  acmeCo/things:
    schema:
      type: object
      properties:
        id: { type: integer }
        name: { type: string }
        n: { type: integer, reduce: { strategy: sum } }
        tags: { type: array, items: { type: string } }
        nested: { type: object, properties: { a: { type: string } } }
        at: { type: string, format: date-time }
        price: { type: string, format: number }
        "Odd Name $": { type: string }
        _meta: { type: object, properties: { op: { type: string } } }
      required: [id]
      reduce: { strategy: merge }
    key: [/id]
materializations:
  acmeCo/${task}:
    endpoint:
      local:
        command: ["node", "<repo>/dist/connectors/${connector}/main.js"]
        protobuf: true
        config: ${JSON.stringify(config)}
    bindings:
      - resource: { table: things }
        source: acmeCo/things
      - resource: { table: things_log, delta_updates: true }
        source: acmeCo/things
`,
  );
  return path;
}

/** Runs the catalog over `fixture` as source "fixture/things". */
export function runThings(catalog: string, fixture: string, opts: Partial<MaterializePreviewOptions> = {}) {
  return runMaterializePreview({
    catalog,
    fixture,
    sourceName: "fixture/things",
    log: createLogger({ level: process.env.TEST_LOG ?? "error" }),
    timeoutMs: 60_000,
    ...opts,
  });
}
