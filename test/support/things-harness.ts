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

/** Properties of acmeCo/things beyond id, name, n and _meta, as YAML lines. */
export const TAGS_AND_NESTED = ["tags: { type: array, items: { type: string } }", "nested: { type: object, properties: { a: { type: string } } }"];
const SQL_EXTRA = [...TAGS_AND_NESTED, "at: { type: string, format: date-time }", "price: { type: string, format: number }", '"Odd Name $": { type: string }'];

/** The `collections:` YAML of acmeCo/things: id, name, summed n, `extra` properties, then _meta/op. */
export function thingsCollection(extra: string[] = []): string {
  const props = ["id: { type: integer }", "name: { type: string }", "n: { type: integer, reduce: { strategy: sum } }", ...extra, "_meta: { type: object, properties: { op: { type: string } } }"];
  return `collections:
  acmeCo/things:
    schema:
      type: object
      properties:
${props.map((p) => `        ${p}\n`).join("")}      required: [id]
      reduce: { strategy: merge }
    key: [/id]
`;
}

/** The `materializations:` YAML of `acmeCo/<task>` run from connector image `<connector>:dev`, one binding of acmeCo/things per resource (YAML flow text). */
export function imageMaterialization(connector: string, task: string, config: Record<string, unknown>, resources: string[]): string {
  return `materializations:
  acmeCo/${task}:
    endpoint:
      connector:
        image: ghcr.io/tributary-dev/${connector}:dev
        config: ${JSON.stringify(config)}
    bindings:
${resources.map((r) => `      - resource: ${r}\n        source: acmeCo/things\n`).join("")}`;
}

/** Writes `yaml` as flow.yaml in a fresh temporary folder named from `tmpPrefix`; returns its path. */
export function writeCatalog(tmpPrefix: string, yaml: string): string {
  const path = join(mkdtempSync(join(tmpdir(), tmpPrefix)), "flow.yaml");
  writeFileSync(path, yaml);
  return path;
}

/** Writes flow.yaml for materialization `acmeCo/<task>` of connector `connector` (a folder under connectors/); returns its path. */
export function thingsCatalog(connector: string, task: string, config: Record<string, unknown>, tmpPrefix: string): string {
  return writeCatalog(
    tmpPrefix,
    `${thingsCollection(SQL_EXTRA)}materializations:
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
