/**
 * Merges a capture's Discover results into the catalog file that defines it,
 * by the rules Flow's control plane uses for a discovery:
 *
 * - discovered bindings are taken in order of recommended name;
 * - a discovered binding matches an existing one when every location of the
 *   discovered resource config holds the same value in the existing one (the
 *   existing one may have more); a match keeps the existing binding as the
 *   user wrote it (target, backfill, extra resource fields, comments);
 * - an unmatched discovered binding is added, targeting
 *   `<capture prefix>/<recommended name>` (disabled if Discover says so);
 * - an existing binding that matches nothing discovered is dropped;
 * - each target collection gets the discovered schema (as `writeSchema` when
 *   it has a `readSchema`, else as `schema`) and, when Discover gives one, the
 *   discovered key; its other fields are kept.
 *
 * Edits go through the `yaml` Document API, so comments and layout of the
 * parts not replaced survive. A schema kept in its own file is rewritten in
 * that file (returned for the caller to write).
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isMap, isScalar, isSeq, parse as parseYaml, stringify as stringifyYaml, type Document, YAMLMap, YAMLSeq } from "yaml";
import { HarnessError } from "./errors.js";

export interface DiscoveredBinding {
  recommendedName: string;
  resource: unknown;
  documentSchema: unknown;
  key: string[];
  disable: boolean;
}

export interface MergeReport {
  /** Targets of bindings added. */
  added: string[];
  /** Targets of existing bindings matched (and kept as written). */
  kept: string[];
  /** Targets of existing bindings that matched nothing discovered, now dropped. */
  removed: string[];
  /** Collections whose schema (and key) were written. */
  collections: string[];
  /** Schema files to rewrite (the caller writes them). */
  files: { path: string; text: string }[];
}

/** True when every location of `part` holds an equal value in `whole`. */
export function resourceCovers(whole: unknown, part: unknown): boolean {
  if (isPlainObject(part)) {
    if (!isPlainObject(whole)) return false;
    return Object.entries(part).every(([k, v]) => k in whole && resourceCovers(whole[k], v));
  }
  if (Array.isArray(part)) {
    return Array.isArray(whole) && whole.length === part.length && part.every((v, i) => resourceCovers(whole[i], v));
  }
  return whole === part;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** A value as written, or the content of the file it names (relative to `base`). */
function resolveRef(v: unknown, base: string): unknown {
  if (typeof v !== "string") return v;
  const path = resolve(base, v.split("#")[0]!);
  const text = readFileSync(path, "utf8");
  return path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
}

function targetOf(binding: unknown): string | undefined {
  if (!isPlainObject(binding)) return undefined;
  const t = binding.target;
  if (typeof t === "string") return t;
  return isPlainObject(t) && typeof t.name === "string" ? t.name : undefined;
}

/**
 * Merges `discovered` into capture `name` of `doc` (the catalog file at
 * `path`), in place. `definedElsewhere` names collections that an imported
 * file defines: those cannot be updated here.
 */
export function mergeDiscovered(
  doc: Document,
  path: string,
  name: string,
  discovered: DiscoveredBinding[],
  definedElsewhere: (collection: string) => string | undefined = () => undefined,
): MergeReport {
  const base = dirname(path);
  const capture = doc.getIn(["captures", name]);
  if (!isMap(capture)) throw new HarnessError(`capture ${JSON.stringify(name)} is not defined in ${path} (discover updates the file that defines it)`);
  const slash = name.lastIndexOf("/");
  if (slash <= 0) throw new HarnessError(`capture ${JSON.stringify(name)}: a task name has a prefix, like acmeCo/${name}`);
  const prefix = name.slice(0, slash);

  let bindings: unknown = capture.get("bindings", true);
  if (bindings === undefined || (isScalar(bindings) && bindings.value === null)) {
    bindings = new YAMLSeq();
    capture.set("bindings", bindings);
  }
  if (!isSeq(bindings)) throw new HarnessError(`capture ${JSON.stringify(name)}: bindings must be a list`);
  const existing = bindings.items.map((node) => {
    const plain = (node as { toJSON?: () => unknown }).toJSON?.() ?? node;
    return { node, plain, resource: resolveRef(isPlainObject(plain) ? plain.resource : undefined, base), used: false };
  });

  const report: MergeReport = { added: [], kept: [], removed: [], collections: [], files: [] };
  const items: unknown[] = [];
  const targets: { target: string; found: DiscoveredBinding }[] = [];
  const sorted = [...discovered].sort((a, b) => (a.recommendedName < b.recommendedName ? -1 : a.recommendedName > b.recommendedName ? 1 : 0));
  for (const d of sorted) {
    const match = existing.find((e) => !e.used && resourceCovers(e.resource, d.resource));
    if (match) {
      match.used = true;
      items.push(match.node);
      const target = targetOf(match.plain);
      if (target === undefined) throw new HarnessError(`capture ${JSON.stringify(name)}: a binding of resource ${JSON.stringify(d.resource)} has no target collection`);
      report.kept.push(target);
      targets.push({ target, found: d });
    } else {
      const target = `${prefix}/${d.recommendedName}`;
      const fresh: Record<string, unknown> = { resource: d.resource, target };
      if (d.disable) fresh.disable = true;
      items.push(doc.createNode(fresh));
      report.added.push(target);
      targets.push({ target, found: d });
    }
  }
  for (const e of existing) if (!e.used) report.removed.push(targetOf(e.plain) ?? "(no target)");
  bindings.items = items as typeof bindings.items;

  for (const { target, found } of targets) {
    const elsewhere = definedElsewhere(target);
    if (elsewhere) throw new HarnessError(`collection ${JSON.stringify(target)} is defined in ${elsewhere}, not in ${path}: move it here, or discover from that file`);
    updateCollection(doc, base, target, found, report);
  }
  return report;
}

function updateCollection(doc: Document, base: string, target: string, found: DiscoveredBinding, report: MergeReport) {
  if (!isMap(doc.get("collections"))) doc.set("collections", new YAMLMap());
  const current = doc.getIn(["collections", target]);
  if (!isMap(current)) {
    const fresh = new YAMLMap();
    if (found.key.length > 0) fresh.set("key", doc.createNode(found.key, { flow: true }));
    fresh.set("schema", doc.createNode(found.documentSchema));
    doc.setIn(["collections", target], fresh);
    report.collections.push(target);
    return;
  }
  const field = current.has("readSchema") ? "writeSchema" : "schema";
  const ref = current.get(field);
  if (typeof ref === "string") {
    // The schema lives in its own file: rewrite that file (a #fragment would be another document's part).
    if (ref.includes("#")) throw new HarnessError(`collection ${JSON.stringify(target)}: ${field} ${ref} points into part of a file; give it its own file or inline it`);
    const file = resolve(base, ref);
    report.files.push({ path: file, text: file.endsWith(".json") ? JSON.stringify(found.documentSchema, null, 2) + "\n" : stringifyYaml(found.documentSchema, { lineWidth: 0 }) });
  } else {
    current.set(field, doc.createNode(found.documentSchema));
  }
  if (found.key.length > 0) current.set("key", doc.createNode(found.key, { flow: true }));
  report.collections.push(target);
}
