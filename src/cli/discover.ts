/**
 * `tributary discover`: runs a capture's Discover and merges the bindings and
 * collection schemas it returns into the catalog file that defines the
 * capture (rules in src/harness/catalog-merge.ts).
 */
import { create } from "@bufbuild/protobuf";
import { readFileSync, writeFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { RequestSchema, ResponseSchema } from "../gen/capture/capture_pb.js";
import { CaptureSpec_ConnectorType } from "../gen/flow/flow_pb.js";
import { createLogger } from "../log.js";
import { parseArgs } from "./args.js";
import { loadCatalog } from "../harness/catalog.js";
import { mergeDiscovered, type DiscoveredBinding } from "../harness/catalog-merge.js";
import { HarnessError, ProtocolViolation } from "../harness/errors.js";
import { unary } from "../harness/unary.js";
import { protocolWire, type WireCodec } from "../harness/wire.js";

export const DISCOVER_USAGE = `usage: tributary discover --source CATALOG [--name CAPTURE] [options]

Runs the Discover of capture CAPTURE of CATALOG (flow.yaml or JSON) and
merges what it finds into that file, as Flow does: new bindings are added
(target <capture prefix>/<recommended name>), bindings already there are kept
as written, bindings no longer discovered are dropped, and each target
collection gets the discovered schema and key. Comments are kept.

options:
  --name CAPTURE          the capture (default: the only one in CATALOG)
  --dry-run               print the merged catalog on stdout; change no file
  --codec proto|json      wire codec (default: the endpoint's)
  --grpc HOST:PORT        ask the connector served at HOST:PORT instead
  --log-level LEVEL       LOG_LEVEL for the connector
`;

export async function discover(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(DISCOVER_USAGE);
    return 0;
  }
  const o = parseArgs(argv, { values: ["source", "name", "codec", "grpc", "log-level"], flags: ["dry-run"] }).options;
  if (typeof o.source !== "string") {
    process.stderr.write(`tributary discover: --source is required\n${DISCOVER_USAGE}`);
    return 2;
  }
  const codec = o.codec as WireCodec | undefined;
  if (codec !== undefined && codec !== "proto" && codec !== "json") throw new HarnessError(`--codec must be proto or json, got ${JSON.stringify(codec)}`);
  const catalog = loadCatalog(o.source, { imageCodec: codec, grpcAddress: typeof o.grpc === "string" ? o.grpc : undefined });
  const names = [...catalog.captures.keys()];
  const name = typeof o.name === "string" ? o.name : names.length === 1 ? names[0]! : undefined;
  if (name === undefined) throw new HarnessError(`name the capture with --name; captures in ${catalog.path}: ${names.join(", ") || "none"}`);
  const def = catalog.captures.get(name);
  if (!def) throw new HarnessError(`capture ${JSON.stringify(name)} is not in ${catalog.path} (captures: ${names.join(", ") || "none"})`);

  const log = createLogger();
  const wire = protocolWire(RequestSchema, ResponseSchema, codec ?? def.endpoint.codec);
  const connectorType = def.endpoint.kind === "image" ? CaptureSpec_ConnectorType.IMAGE : CaptureSpec_ConnectorType.LOCAL;
  const res = await unary(def.endpoint, wire, create(RequestSchema, { discover: { connectorType, configJson: JSON.stringify(def.endpoint.config) } }), "discovered", {
    log,
    protocol: "capture",
    logLevel: typeof o["log-level"] === "string" ? o["log-level"] : def.endpoint.logLevel,
  });
  const found: DiscoveredBinding[] = res.discovered!.bindings.map((b, i) => ({
    recommendedName: b.recommendedName,
    resource: parseRaw(b.resourceConfigJson, `bindings[${i}].resourceConfig`),
    documentSchema: parseRaw(b.documentSchemaJson, `bindings[${i}].documentSchema`),
    key: b.key,
    disable: b.disable,
  }));

  const text = readFileSync(catalog.path, "utf8");
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new HarnessError(`${catalog.path}: ${doc.errors[0]!.message}`);
  const here = (c: string) => doc.hasIn(["collections", c]);
  const report = mergeDiscovered(doc, catalog.path, name, found, (c) => (catalog.collections.has(c) && !here(c) ? "a catalog it imports" : undefined));
  const out = catalog.path.endsWith(".json") ? JSON.stringify(doc.toJS(), null, 2) + "\n" : doc.toString({ lineWidth: 0 });

  if (o["dry-run"] === true) {
    process.stdout.write(out);
  } else {
    writeFileSync(catalog.path, out);
    for (const f of report.files) writeFileSync(f.path, f.text);
  }
  const list = (xs: string[]) => (xs.length ? xs.join(", ") : "none");
  process.stderr.write(
    `discovered ${found.length} binding${found.length === 1 ? "" : "s"} of ${name}: added ${list(report.added)}; kept ${list(report.kept)}; ` +
      `dropped ${list(report.removed)}; ${o["dry-run"] === true ? "would write" : "wrote"} ${catalog.path}` +
      (report.files.length ? ` and ${report.files.map((f) => f.path).join(", ")}` : "") +
      "\n",
  );
  return 0;
}

function parseRaw(json: string, field: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    throw new ProtocolViolation("capture.Response.Discovered", "discovered-not-json", `${field} is not valid JSON`);
  }
}
