/**
 * The files of a new materialization project: a connector keeping tables of
 * documents in one JSON file, committed atomically with the runtime
 * checkpoint, so it is exactly-once across crashes.
 */
import type { ProjectFiles } from "./project.js";

export function materializeFiles(name: string, collection: string): ProjectFiles {
  const connector = `/**
 * ${name}: materializes each bound collection into a table of one JSON file
 * (config.path). The file holds the tables and the runtime checkpoint and is
 * replaced atomically at each commit, so the destination is authoritative:
 * Open hands the stored checkpoint back and a crash at any point neither loses
 * nor repeats a transaction. Replace the file with your destination.
 *
 * It assumes one shard: a connector for a shared destination also fences
 * off older sessions (see tributary/sql's installFence).
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import {
  CollectionName,
  ConstraintType,
  Type,
  ZERO_CHECKPOINT,
  decodeCheckpoint,
  defineMaterialization,
  encodeCheckpoint,
  type Constraint,
  type StoreRequest,
} from "tributary/sdk";

// Each schema is written once: it is the JSON schema Flow's UI renders, and
// defineMaterialization types every handler's config and resourceConfig from it.
const Config = Type.Object(
  { path: Type.String({ title: "File", description: "Path of the destination file.", minLength: 1 }) },
  { $schema: "http://json-schema.org/draft-07/schema#", title: ${JSON.stringify(name)}, additionalProperties: false },
);

const Resource = Type.Object(
  { table: CollectionName({ title: "Table", minLength: 1 }) },
  { $schema: "http://json-schema.org/draft-07/schema#", title: "Table", additionalProperties: false },
);

/** The destination file: table -> key JSON -> document. */
interface Destination {
  checkpoint?: string;
  tables: Record<string, Record<string, unknown>>;
}

function read(path: string): Destination {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Destination;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { tables: {} };
    throw err;
  }
}

function write(path: string, dest: Destination): void {
  writeFileSync(path + ".tmp", JSON.stringify(dest));
  renameSync(path + ".tmp", path);
}

export default defineMaterialization({
  protocol: "materialize",
  name: ${JSON.stringify(name)},
  documentationUrl: "https://example.com/${name}",
  configSchema: Config,
  resourceConfigSchema: Resource,

  async validate({ bindings }) {
    return bindings.map((b) => {
      const constraints: Record<string, Constraint> = {};
      for (const p of b.collection.projections) {
        if (p.isPrimaryKey) constraints[p.field] = { type: ConstraintType.LOCATION_REQUIRED, reason: "keys identify rows" };
        else if (p.ptr === "") constraints[p.field] = { type: ConstraintType.LOCATION_REQUIRED, reason: "the document is stored" };
        else constraints[p.field] = { type: ConstraintType.FIELD_OPTIONAL, reason: "stored within the document" };
      }
      return { constraints, resourcePath: [b.resourceConfig.table], deltaUpdates: false };
    });
  },

  async apply({ config, bindings }) {
    const dest = read(config.path);
    const created = bindings.map((b) => b.resourceConfig.table).filter((t) => !dest.tables[t]);
    for (const t of created) dest.tables[t] = {};
    if (created.length > 0) write(config.path, dest);
    return { actionDescription: created.map((t) => "created table " + t).join("\\n") };
  },

  async open({ config, bindings }) {
    const stored = read(config.path).checkpoint;
    const table = (binding: number) => bindings[binding]!.resourceConfig.table;
    return {
      runtimeCheckpoint: stored ? decodeCheckpoint(stored) : ZERO_CHECKPOINT,
      transactor: {
        async load(it, loaded) {
          const keys: { binding: number; keyJson: string }[] = [];
          for await (const l of it) keys.push(l);
          // The previous transaction's commit must land before reading.
          await it.committed();
          const dest = read(config.path);
          for (const k of keys) {
            const doc = dest.tables[table(k.binding)]?.[k.keyJson];
            if (doc !== undefined) await loaded(k.binding, doc);
          }
        },
        async store(it) {
          const stores: StoreRequest[] = [];
          for await (const s of it) stores.push(s);
          return async ({ runtimeCheckpoint }) => {
            const dest = read(config.path);
            for (const s of stores) {
              const rows = (dest.tables[table(s.binding)] ??= {});
              if (s.delete) delete rows[s.keyJson];
              else rows[s.keyJson] = JSON.parse(s.docJson);
            }
            dest.checkpoint = encodeCheckpoint(runtimeCheckpoint);
            write(config.path, dest);
          };
        },
        async acknowledge() {},
      },
    };
  },
});
`;

  const catalog = `# A catalog for \`tributary preview --source flow.yaml --fixture fixture.jsonl\` and the tests.
collections:
  ${collection}:
    schema:
      type: object
      properties:
        id: { type: integer }
        name: { type: string }
        score: { type: integer }
      required: [id]
    key: [/id]
materializations:
  acmeCo/${name}:
    endpoint:
      local:
        command: [tributary, run, ./dist/connector.js]
        config: { path: destination.json }
    bindings:
      - resource: { table: things }
        source: ${collection}
`;

  const fixture = [
    `["${collection}", {"id": 1, "name": "one", "score": 1}]`,
    `["${collection}", {"id": 2, "name": "two", "score": 2}]`,
    `{"commit": true}`,
    `["${collection}", {"id": 1, "name": "uno", "score": 10}]`,
    `["${collection}", {"id": 3, "name": "three", "score": 3}]`,
    `{"commit": true}`,
    "",
  ].join("\n");

  const test = `import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadCatalog, parseCrashPoint, runMaterializePreview } from "tributary/testing";

const catalogPath = fileURLToPath(new URL("../flow.yaml", import.meta.url));
const collection = ${JSON.stringify(collection)};

const transactions: [string, unknown][][] = [
  [[collection, { id: 1, name: "one", score: 1 }], [collection, { id: 2, name: "two", score: 2 }]],
  [[collection, { id: 1, name: "uno", score: 10 }], [collection, { id: 3, name: "three", score: 3 }]],
  [[collection, { id: 2, name: "dos", score: 20 }]],
];

/** The catalog, with the destination file in a fresh folder. */
function catalogAt(): { catalog: ReturnType<typeof loadCatalog>; path: string } {
  const path = join(mkdtempSync(join(tmpdir(), "materialize-test-")), "destination.json");
  const catalog = loadCatalog(catalogPath);
  for (const m of catalog.materializations.values()) m.endpoint.config = { path };
  return { catalog, path };
}

const rows = (path: string) => JSON.parse(readFileSync(path, "utf8")).tables.things as Record<string, { name: string }>;

describe(${JSON.stringify(name)}, () => {
  it("stores the last version of each document", async () => {
    const { catalog, path } = catalogAt();
    const result = await runMaterializePreview({ catalog, fixture: transactions, timeoutMs: 60_000 });
    expect(result.stats.transactions).toBe(3);
    // Rows are keyed by the key's JSON; documents carry the runtime's _meta.
    expect(Object.keys(rows(path))).toEqual(["[1]", "[2]", "[3]"]);
    expect(rows(path)["[2]"]).toMatchObject({ id: 2, name: "dos", score: 20 });
  });

  it("recovers exactly once when killed after starting a commit", async () => {
    const { catalog, path } = catalogAt();
    const result = await runMaterializePreview({
      catalog,
      fixture: transactions,
      crashAt: parseCrashPoint("after-start-commit:2"),
      timeoutMs: 60_000,
    });
    expect(result.stats.crashes).toBe(1);
    expect(Object.values(rows(path)).map((r) => r.name)).toEqual(["uno", "dos", "three"]);
  });
});
`;
  return { "src/connector.ts": connector, "flow.yaml": catalog, "fixture.jsonl": fixture, "test/connector.test.ts": test };
}
