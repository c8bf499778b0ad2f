/**
 * `tributary preview` runs the registered image name through `tributary run
 * materialize-postgres`, in both codecs; a second preview on the same tables
 * resumes from the checkpoint stored with the data and applies nothing twice.
 * Needs `npx tsc -p .` first.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { endpointConfig } from "./test-support.js";
import { testSchemas } from "./test-schemas.js";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const REPO = join(HERE, "../..");
const db = testSchemas("cli");

function preview(catalog: string, codec: string) {
  const r = spawnSync(process.execPath, [join(REPO, "bin/tributary"), "preview", "--source", catalog, "--fixture", join(HERE, "testdata/things-3.jsonl"), "--codec", codec], {
    encoding: "utf8",
    env: { ...process.env, LOG_LEVEL: "warn" },
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
}

describe("tributary preview with materialize-postgres", () => {
  it.each(["proto", "json"])("materializes the fixture once over the %s codec, then resumes from the stored checkpoint", async (codec) => {
    const schema = db.fresh();
    const dir = mkdtempSync(join(tmpdir(), "mpg-cli-"));
    const catalog = join(dir, "flow.yaml");
    writeFileSync(
      catalog,
      `collections:
  acmeCo/things:
    schema:
      type: object
      properties:
        id: { type: integer }
        name: { type: string }
        n: { type: integer, reduce: { strategy: sum } }
      required: [id]
      reduce: { strategy: merge }
    key: [/id]
materializations:
  acmeCo/pg:
    endpoint:
      connector:
        image: ghcr.io/tributary-dev/materialize-postgres:dev
        config: ${JSON.stringify(endpointConfig(schema))}
    bindings:
      - resource: { table: things }
        source: acmeCo/things
`,
    );
    const first = preview(catalog, codec);
    expect(first.stats.transactions).toBe(4);
    const second = preview(catalog, codec);
    expect(second.applied).toBe("");
    expect(second.stats.transactions).toBe(0);
    expect(second.shards[0].resumedFrom).toEqual(["connector"]);
    const rows = await db.admin.query(`SELECT id::int, n::int FROM "${schema}".things ORDER BY id`);
    expect(rows.rows).toEqual([
      { id: 1, n: 111 },
      { id: 2, n: 2 },
      { id: 3, n: 33 },
      { id: 4, n: 4 },
      { id: 5, n: 5 },
      { id: 7, n: 7 },
    ]);
  });
});
