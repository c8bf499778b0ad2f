/**
 * The gRPC transport against a real server on 127.0.0.1, driven by a
 * grpc-js client the way Flow's runtime drives a connector: small test
 * connectors run through the real session core.
 */
import { afterEach, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import * as cap from "../../src/gen/capture/capture_pb.js";
import * as mat from "../../src/gen/materialize/materialize_pb.js";
import { CaptureSpec_ConnectorType, MaterializationSpec_ConnectorType } from "../../src/gen/flow/flow_pb.js";
import { serveGrpc, type GrpcServer } from "../../src/transport/grpc.js";
import { captureService, materializeService } from "../../src/transport/grpc-services.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { ConstraintType, PROTOCOL_VERSION, type CaptureConnector, type MaterializeConnector } from "../../src/sdk/types.js";
import { createLogger } from "../../src/log.js";
import { eventually } from "../support/eventually.js";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as path from "node:path";
import {
  connect,
  exchange,
  healthCheck,
  healthClient,
  nextResponse,
  openRawStream,
  openStream,
  outcome,
} from "./grpc-client.js";

const quiet = createLogger({ level: "error", write: () => {} });
const enc = new TextEncoder();

/** Resolves when `signal` aborts, with its reason. */
const aborted = (signal: AbortSignal) =>
  new Promise<unknown>((resolve) => signal.addEventListener("abort", () => resolve(signal.reason), { once: true }));

/** What the test capture's hooks do; tests replace them. */
const hooks: {
  discover: (config: any) => Promise<unknown>;
  open: CaptureConnector["open"];
} = { discover: async () => [], open: async () => {} };

const testCapture: CaptureConnector = {
  protocol: "capture",
  name: "test-capture",
  configSchema: { type: "object" },
  resourceConfigSchema: { type: "object", properties: { stream: { type: "string" } }, required: ["stream"] },
  documentationUrl: "https://example.com/test-capture",
  resourcePathPointers: ["/stream"],
  discover: (config) => hooks.discover(config) as never,
  open: (req, out, ctx) => hooks.open(req, out, ctx),
};

const testMaterialize: MaterializeConnector = {
  protocol: "materialize",
  name: "test-materialize",
  configSchema: { type: "object" },
  resourceConfigSchema: { type: "object" },
  documentationUrl: "https://example.com/test-materialize",
  // One binding per request binding, each requiring every projected field.
  validate: async (req) =>
    req.bindings.map((b) => ({
      constraints: Object.fromEntries(
        b.collection.projections.map((p) => [p.field, { type: ConstraintType.FIELD_REQUIRED, reason: "test" }]),
      ),
      resourcePath: [b.collection.name],
      deltaUpdates: false,
    })),
  apply: async () => ({ actionDescription: "" }),
  open: async () => ({
    transactor: {
      store: async (it) => {
        for await (const _ of it);
        return async () => {};
      },
      acknowledge: async () => {},
    },
  }),
};

const servers: GrpcServer[] = [];
const clients: grpc.Client[] = [];

async function start(connector: CaptureConnector | MaterializeConnector) {
  const server = await serveGrpc(connector, { port: 0, log: quiet });
  servers.push(server);
  const client = connect(server.port);
  clients.push(client);
  return { server, client };
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close(0)));
  hooks.discover = async () => [];
  hooks.open = async () => {};
});

const captureReq = (init: Record<string, unknown>) => create(cap.RequestSchema, init as never);
const specReq = captureReq({ spec: { connectorType: CaptureSpec_ConnectorType.IMAGE, configJson: "{}" } });
const discoverReq = (config: string) =>
  captureReq({ discover: { connectorType: CaptureSpec_ConnectorType.IMAGE, configJson: config } });
const openReq = (stateJson = "{}") =>
  captureReq({
    open: {
      capture: {
        name: "acme/test",
        connectorType: CaptureSpec_ConnectorType.IMAGE,
        configJson: enc.encode("{}"),
        bindings: [
          {
            resourceConfigJson: enc.encode(`{"stream":"a"}`),
            resourcePath: ["a"],
            collection: { name: "acme/a", key: ["/id"] },
            stateKey: "a",
          },
        ],
      },
      version: "v1",
      range: { keyBegin: 0, keyEnd: 0xffffffff, rClockBegin: 0, rClockEnd: 0xffffffff },
      stateJson: stateJson,
    },
  });

describe("gRPC transport: capture", () => {
  it("answers Spec with the protocol version and the connector's schemas", async () => {
    const { client } = await start(testCapture);
    const out = await exchange<cap.Request, cap.Response>(client, captureService, [specReq]);
    expect(out.code).toBe(grpc.status.OK);
    expect(out.responses).toHaveLength(1);
    const spec = out.responses[0]!.spec!;
    expect(spec.protocol).toBe(PROTOCOL_VERSION);
    expect(spec.protocol).toBe(3032023);
    expect(JSON.parse(spec.resourceConfigSchemaJson)).toEqual(testCapture.resourceConfigSchema);
    expect(spec.resourcePathPointers).toEqual(["/stream"]);
  });

  it("streams Opened, Captured and Checkpoint for an Open session, then ends OK", async () => {
    hooks.open = async (_req, out) => {
      await out.opened();
      await out.document(0, { id: 1, hello: "world" });
      await out.document(0, { id: 2, hello: "again" });
      await out.checkpoint({ updated: { a: { cursor: 2 } } });
    };
    const { client } = await start(testCapture);
    const out = await exchange<cap.Request, cap.Response>(client, captureService, [openReq()]);
    expect(out.code).toBe(grpc.status.OK);
    const kinds = out.responses.map((r) => Object.keys(r).find((k) => k !== "$typeName" && k !== "internal" && (r as any)[k]));
    expect(kinds).toEqual(["opened", "captured", "captured", "checkpoint"]);
    expect(JSON.parse(out.responses[1]!.captured!.docJson)).toEqual({ id: 1, hello: "world" });
    const state = out.responses[3]!.checkpoint!.state!;
    expect(JSON.parse(new TextDecoder().decode(state.updatedJson))).toEqual({ a: { cursor: 2 } });
  });

  it("ends with INVALID_ARGUMENT and the message when the connector raises a ConnectorError", async () => {
    hooks.discover = async () => {
      throw new ConnectorError("cannot reach the source: check the host name");
    };
    const { client } = await start(testCapture);
    const out = await exchange<cap.Request, cap.Response>(client, captureService, [discoverReq("{}")]);
    expect(out.responses).toHaveLength(0);
    expect(out.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(out.details).toBe("cannot reach the source: check the host name");
  });

  it("ends with INTERNAL when the connector fails unexpectedly", async () => {
    hooks.discover = async () => {
      throw new TypeError("undefined is not a function");
    };
    const { client } = await start(testCapture);
    const out = await exchange<cap.Request, cap.Response>(client, captureService, [discoverReq("{}")]);
    expect(out.code).toBe(grpc.status.INTERNAL);
    expect(out.details).toBe("undefined is not a function");
  });

  it("ends with INVALID_ARGUMENT naming the message for protocol violations and undecodable bytes", async () => {
    const { client } = await start(testCapture);
    const empty = await exchange<cap.Request, cap.Response>(client, captureService, [captureReq({})]);
    expect(empty.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(empty.details).toMatch(/capture\.Request sets no message/);

    const raw = openRawStream<cap.Response>(client, captureService);
    const done = outcome(raw);
    // Field 1 (spec) as a length-delimited field claiming 100 bytes it lacks.
    raw.write(Buffer.from([0x0a, 0x64, 0x01]));
    raw.end();
    const bad = await done;
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.details).toMatch(/capture\.Request/);
  });

  it("carries a 20 MB document in both directions", async () => {
    hooks.open = async (req, out) => {
      await out.opened();
      await out.document(0, { id: 1, blob: req.state.blob });
      await out.checkpoint({ updated: {} });
    };
    const blob = "0123456789abcdef".repeat((20 * 1024 * 1024) / 16);
    const { client } = await start(testCapture);
    const out = await exchange<cap.Request, cap.Response>(client, captureService, [
      openReq(JSON.stringify({ blob })),
    ]);
    expect(out.code).toBe(grpc.status.OK);
    const doc = JSON.parse(out.responses[1]!.captured!.docJson);
    expect(doc.blob.length).toBe(blob.length);
    expect(doc.blob === blob).toBe(true);
  });

  it("paces a fast producer with the transport's backpressure and delivers everything in order", async () => {
    const total = 2000;
    let produced = 0;
    const pad = "x".repeat(64 * 1024);
    hooks.open = async (_req, out) => {
      await out.opened();
      for (let i = 0; i < total; i++) {
        await out.document(0, { id: i, pad });
        produced++;
      }
      await out.checkpoint({ updated: {} });
    };
    const { client } = await start(testCapture);
    const call = openStream<cap.Request, cap.Response>(client, captureService);
    const done = outcome(call);
    const ids: number[] = [];
    let producedAtFirst = -1;
    call.on("data", (r: cap.Response) => {
      if (!r.captured) return;
      if (ids.length === 0) producedAtFirst = produced;
      ids.push(JSON.parse(r.captured.docJson).id);
    });
    call.write(openReq());
    call.end();
    expect((await done).code).toBe(grpc.status.OK);
    expect(ids).toEqual(Array.from({ length: total }, (_, i) => i));
    // 2000 x 64 KiB = 125 MiB. A sink that never waited for 'drain' would let
    // the producer run to the end before the first message left the process.
    expect(producedAtFirst).toBeGreaterThanOrEqual(0);
    expect(producedAtFirst).toBeLessThan(total / 4);
  });

  it("aborts the session's signal when the client cancels the stream", async () => {
    let reason: Promise<unknown> | undefined;
    hooks.open = async (_req, out, ctx) => {
      reason = aborted(ctx.signal);
      await out.opened();
      await reason;
    };
    const { client } = await start(testCapture);
    const call = openStream<cap.Request, cap.Response>(client, captureService);
    const done = outcome(call);
    call.write(openReq());
    const first = await nextResponse(call);
    expect(first.opened).toBeDefined();
    call.cancel();
    expect((await done).code).toBe(grpc.status.CANCELLED);
    const why = await Promise.race([reason!, new Promise((r) => setTimeout(() => r("not aborted"), 5000))]);
    expect(why).not.toBe("not aborted");
  });
});

describe("gRPC transport: materialize", () => {
  const matReq = (init: Record<string, unknown>) => create(mat.RequestSchema, init as never);

  it("serves only the Materialize service and runs a transaction", async () => {
    const { client } = await start(testMaterialize);
    const spec = await exchange<mat.Request, mat.Response>(client, materializeService, [
      matReq({ spec: { connectorType: MaterializationSpec_ConnectorType.IMAGE, configJson: enc.encode("{}") } }),
    ]);
    expect(spec.code).toBe(grpc.status.OK);
    expect(spec.responses[0]!.spec!.protocol).toBe(3032023);

    // The capture service is not served by a materialization's server.
    const wrong = await exchange<cap.Request, cap.Response>(client, captureService, [specReq]);
    expect(wrong.code).toBe(grpc.status.UNIMPLEMENTED);

    const call = openStream<mat.Request, mat.Response>(client, materializeService);
    const done = outcome(call);
    call.write(
      matReq({
        open: {
          materialization: {
            name: "acme/m",
            connectorType: MaterializationSpec_ConnectorType.IMAGE,
            configJson: enc.encode("{}"),
          },
          version: "v1",
        },
      }),
    );
    expect((await nextResponse(call)).opened).toBeDefined();
    call.write(matReq({ acknowledge: {} }));
    expect((await nextResponse(call)).acknowledged).toBeDefined();
    call.write(matReq({ flush: {} }));
    expect((await nextResponse(call)).flushed).toBeDefined();
    call.write(matReq({ startCommit: { runtimeCheckpoint: {} } }));
    expect((await nextResponse(call)).startedCommit).toBeDefined();
    call.end();
    expect((await done).code).toBe(grpc.status.OK);
  });
});

describe("gRPC transport: health and shutdown", () => {
  it("names the address when it cannot listen", async () => {
    const { server } = await start(testCapture);
    await expect(serveGrpc(testCapture, { port: server.port, log: quiet })).rejects.toThrow(
      new RegExp(`could not listen on 127\\.0\\.0\\.1:${server.port}: .*EADDRINUSE`),
    );
  });

  it("reports SERVING for the server and the served service only", async () => {
    const { server } = await start(testCapture);
    const health = healthClient(server.port);
    clients.push(health);
    expect(await healthCheck(health, "")).toBe("SERVING");
    expect(await healthCheck(health, "capture.Connector")).toBe("SERVING");
    expect(await healthCheck(health, "materialize.Connector")).toBe(grpc.status.NOT_FOUND);
  });

  it("drains: tells watchers NOT_SERVING, lets an open stream finish, refuses new ones", async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    hooks.open = async (_req, out) => {
      await out.opened();
      await released;
      await out.document(0, { id: 1 });
      await out.checkpoint({ updated: {} });
    };
    const { server, client } = await start(testCapture);
    const health = healthClient(server.port);
    clients.push(health);
    const watch = health.watch({ service: "" }) as grpc.ClientReadableStream<{ status: string }>;
    const statuses: string[] = [];
    watch.on("data", (r) => statuses.push(r.status));
    const watchEnded = new Promise<void>((r) => watch.on("status", () => r()));
    watch.on("error", () => {});

    const call = openStream<cap.Request, cap.Response>(client, captureService);
    const done = outcome(call);
    call.write(openReq());
    call.end();
    await eventually(() => statuses.length > 0, "the health watch's first status");
    expect(statuses).toEqual(["SERVING"]);

    const closed = server.close(10_000);
    await watchEnded;
    expect(statuses).toEqual(["SERVING", "NOT_SERVING"]);

    // A new stream is refused while the open one drains.
    const late = await exchange<cap.Request, cap.Response>(connect(server.port), captureService, [specReq]);
    expect(late.code).toBe(grpc.status.UNAVAILABLE);

    release();
    const out = await done;
    expect(out.code).toBe(grpc.status.OK);
    expect(out.responses.map((r) => !!r.checkpoint)).toEqual([false, false, true]);
    expect(await closed).toEqual({ forced: false });
  });

  it("cancels streams still open when the grace period ends", async () => {
    let reason: Promise<unknown> | undefined;
    hooks.open = async (_req, out, ctx) => {
      reason = aborted(ctx.signal);
      await out.opened();
      await reason;
    };
    const { server, client } = await start(testCapture);
    const call = openStream<cap.Request, cap.Response>(client, captureService);
    const done = outcome(call);
    call.write(openReq());
    await nextResponse(call);
    const t0 = Date.now();
    expect(await server.close(300)).toEqual({ forced: true });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(String(await reason)).toMatch(/shutting down|cancel/);
    expect((await done).code).not.toBe(grpc.status.OK);
  });
});

describe("gRPC transport: reflection", () => {
  const buf = path.join(import.meta.dirname, "../../node_modules/.bin/buf");
  const bufCurl = async (args: string[]) =>
    (await promisify(execFile)(buf, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], { timeout: 30_000 }))
      .stdout;

  it("lets buf curl list and call the materialize service with JSON bodies, through transitive types", async () => {
    const { server } = await start(testMaterialize);
    const base = `http://127.0.0.1:${server.port}`;
    for (const protocol of ["grpc-v1", "grpc-v1alpha"]) {
      const methods = (await bufCurl(["--reflect-protocol", protocol, "--list-methods", base])).trim().split("\n");
      expect(methods.sort()).toEqual([
        "grpc.health.v1.Health/Check",
        "grpc.health.v1.Health/List",
        "grpc.health.v1.Health/Watch",
        "materialize.Connector/Materialize",
      ]);
    }
    // materialize.proto's config_json is bytes: JSON "config" takes base64 ("e30=" is "{}").
    const spec = JSON.parse(await bufCurl(["-d", `{"spec":{"connectorType":"IMAGE","config":"e30="}}`, `${base}/materialize.Connector/Materialize`]));
    expect(spec.spec.protocol).toBe(3032023);

    // Validate reaches flow.CollectionSpec, broker JournalSpec and
    // google.protobuf.Duration: all must resolve through reflection.
    const validate = {
      validate: {
        name: "acme/m",
        connectorType: "IMAGE",
        config: "e30=",
        bindings: [
          {
            resourceConfig: Buffer.from(`{"table":"t"}`).toString("base64"),
            collection: {
              name: "acme/things",
              key: ["/id"],
              projections: [{ ptr: "/id", field: "id", isPrimaryKey: true }],
              partitionTemplate: { name: "acme/things/pivot=00", fragment: { refreshInterval: "300s" } },
            },
          },
        ],
      },
    };
    const validated = JSON.parse(await bufCurl(["-d", JSON.stringify(validate), `${base}/materialize.Connector/Materialize`]));
    expect(validated.validated.bindings[0].resourcePath).toEqual(["acme/things"]);
    expect(validated.validated.bindings[0].constraints.id.type).toBe("FIELD_REQUIRED");
  });
});
