/**
 * Runs a connector over the stdio transport on given request bytes, with
 * metrics, and hands back what it wrote: the stdio frame tests' one harness.
 */
import { PassThrough } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { RequestSchema, type Request } from "../../src/gen/materialize/materialize_pb.js";
import type { MaterializationSpec } from "../../src/gen/flow/flow_pb.js";
import { CheckpointSchema } from "../../src/gen/consumer/protocol/protocol_pb.js";
import { messageCodec } from "../../src/codec/wire.js";
import { FrameWriter } from "../../src/codec/frames.js";
import type { CaptureConnector, MaterializeConnector } from "../../src/sdk/types.js";
import { runStdio } from "../../src/transport/stdio.js";
import { ConnectorMetrics } from "../../src/transport/metrics.js";
import { createLogger, type Logger } from "../../src/log.js";
import { collectedStdout } from "./collected-stdout.js";

export type Wire = "proto" | "json";

export interface StdioRun {
  code: number;
  /** Everything the connector wrote to stdout. */
  out: Buffer;
  /** The metrics' summary of the run. */
  summary: any;
}

/** Runs `connector` on `input` (its stdin, ended), logging errors only (to `log` if given). */
export async function runOnStdio(wire: Wire, connector: CaptureConnector | MaterializeConnector, input: Uint8Array, log?: Logger): Promise<StdioRun> {
  const { stdout, bytes } = collectedStdout();
  const stdin = new PassThrough();
  stdin.end(input);
  const metrics = new ConnectorMetrics(connector.name);
  const code = await runStdio(connector, { stdin, stdout, env: { FLOW_RUNTIME_CODEC: wire }, log: log ?? createLogger({ level: "error" }), metrics });
  return { code, out: bytes(), summary: await metrics.summary() };
}

/** runOnStdio for a run that must succeed: fails unless the connector exits with 0. */
export async function runSucceeding(wire: Wire, connector: CaptureConnector | MaterializeConnector, input: Uint8Array): Promise<StdioRun> {
  const run = await runOnStdio(wire, connector, input);
  if (run.code !== 0) throw new Error(`the connector exited with ${run.code}, not 0`);
  return run;
}

/** The requests of one materialize transaction with a single Load (of key [1] in binding 0), framed for `wire`. */
export function oneLoadTransaction(wire: Wire, spec: MaterializationSpec): Buffer {
  const codec = messageCodec(RequestSchema, wire);
  const w = new FrameWriter(wire);
  const reqs: Request[] = [
    create(RequestSchema, { open: { materialization: spec, version: "v1" } }),
    create(RequestSchema, { acknowledge: {} }),
    create(RequestSchema, { load: { binding: 0, keyJson: new TextEncoder().encode("[1]") } }),
    create(RequestSchema, { flush: {} }),
    create(RequestSchema, { startCommit: { runtimeCheckpoint: create(CheckpointSchema, {}) } }),
  ];
  for (const r of reqs) w.append(codec.encode(r));
  return w.take();
}
