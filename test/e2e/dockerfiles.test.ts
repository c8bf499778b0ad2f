/**
 * Every connector image must start the way Flow will start it. There is no
 * Docker engine here, so this runs each Dockerfile's exact ENTRYPOINT (with
 * the image's /app mapped to this checkout) in the codec its label names,
 * and checks the protocol label against what the connector speaks.
 */
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import * as capture from "../../src/gen/capture/capture_pb.js";
import * as materialize from "../../src/gen/materialize/materialize_pb.js";
import { loadConnector } from "../../connectors/registry.js";
import { ConnectorProcess, REPO } from "../support/process.js";

interface Image {
  name: string;
  labels: Record<string, string>;
  entrypoint: string[];
}

function parseDockerfile(name: string): Image {
  const text = readFileSync(`${REPO}connectors/${name}/Dockerfile`, "utf8");
  const labels: Record<string, string> = {};
  for (const m of text.matchAll(/^LABEL\s+([A-Z_]+)=(\S+)/gm)) labels[m[1]!] = m[2]!;
  const entry = [...text.matchAll(/^ENTRYPOINT\s+(\[.*\])\s*$/gm)].pop();
  return { name, labels, entrypoint: entry ? JSON.parse(entry[1]!) : [] };
}

const images = readdirSync(`${REPO}connectors`, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(`${REPO}connectors/${d.name}/Dockerfile`))
  .map((d) => parseDockerfile(d.name));

describe.each(images)("image of $name", (image) => {
  it("labels the protocol its connector speaks and a known codec", async () => {
    const connector = await loadConnector(image.name);
    expect(image.labels.FLOW_RUNTIME_PROTOCOL).toBe(connector.protocol);
    expect(["proto", "json"]).toContain(image.labels.FLOW_RUNTIME_CODEC);
  });

  it("answers Spec through its exact ENTRYPOINT", async () => {
    expect(image.entrypoint[0]).toMatch(/^\/app\//);
    const argv = image.entrypoint.map((a) => a.replace(/^\/app\//, REPO));
    const wire = image.labels.FLOW_RUNTIME_CODEC === "json" ? "json" : "proto";
    const schemas = image.labels.FLOW_RUNTIME_PROTOCOL === "capture" ? capture : materialize;
    const p = new ConnectorProcess(argv, wire, schemas.RequestSchema as typeof capture.RequestSchema, schemas.ResponseSchema as typeof capture.ResponseSchema);
    p.send(create(schemas.RequestSchema as typeof capture.RequestSchema, { spec: {} }));
    p.close();
    expect(await p.exited).toBe(0);
    expect((p.received[0] as { spec?: { protocol: number } }).spec?.protocol).toBe(3032023);
  });
});
