/**
 * Bounded requests and retryable statuses over real gRPC: a message above
 * the server's cap ends only its own stream with RESOURCE_EXHAUSTED (before
 * its bytes are buffered) while other clients keep being served, and
 * ConnectorErrors that describe a passing server condition come back as
 * UNAVAILABLE / RESOURCE_EXHAUSTED rather than INVALID_ARGUMENT.
 */
import { afterEach, describe, expect, it } from "vitest";
import * as http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import * as cap from "../../src/gen/capture/capture_pb.js";
import { CaptureSpec_ConnectorType } from "../../src/gen/flow/flow_pb.js";
import { serveGrpc, type GrpcServer } from "../../src/transport/grpc.js";
import { captureService } from "../../src/transport/grpc-services.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import type { CaptureConnector } from "../../src/sdk/types.js";
import { createLogger } from "../../src/log.js";
import { eventually } from "../support/eventually.js";
import { connect, exchange, nextResponse, openRawStream, openStream, outcome } from "./grpc-client.js";

const quiet = createLogger({ level: "error", write: () => {} });
const enc = new TextEncoder();

let discover: () => Promise<unknown> = async () => [];
let open: CaptureConnector["open"] = async () => {};
const connector: CaptureConnector = {
  protocol: "capture",
  name: "test-capture",
  configSchema: { type: "object" },
  resourceConfigSchema: { type: "object" },
  documentationUrl: "https://example.com/test-capture",
  resourcePathPointers: ["/stream"],
  discover: () => discover() as never,
  open: (req, out, ctx) => open(req, out, ctx),
};

const servers: GrpcServer[] = [];
const clients: grpc.Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close(0)));
  discover = async () => [];
  open = async () => {};
});

async function start(maxMessageBytes?: number): Promise<GrpcServer> {
  const server = await serveGrpc(connector, { port: 0, log: quiet, maxMessageBytes });
  servers.push(server);
  return server;
}
function client(server: GrpcServer): grpc.Client {
  const c = connect(server.port);
  clients.push(c);
  return c;
}

const req = (init: Record<string, unknown>) => create(cap.RequestSchema, init as never);
const specReq = req({ spec: { connectorType: CaptureSpec_ConnectorType.IMAGE, configJson: "{}" } });
const discoverReq = req({ discover: { connectorType: CaptureSpec_ConnectorType.IMAGE, configJson: "{}" } });
const openReq = req({
  open: {
    capture: {
      name: "acme/test",
      connectorType: CaptureSpec_ConnectorType.IMAGE,
      configJson: enc.encode("{}"),
      bindings: [{ resourceConfigJson: enc.encode(`{"stream":"a"}`), resourcePath: ["a"], collection: { name: "acme/a", key: ["/id"] }, stateKey: "a" }],
    },
    version: "v1",
    range: { keyBegin: 0, keyEnd: 0xffffffff, rClockBegin: 0, rClockEnd: 0xffffffff },
    stateJson: "{}",
  },
});
const encodeReq = (r: cap.Request) => captureService.definition[captureService.method]!.requestSerialize(r) as Buffer;

describe("gRPC message size cap", () => {
  it("ends an oversize stream with RESOURCE_EXHAUSTED, aborts its session, and keeps serving other clients", async () => {
    const signals: AbortSignal[] = [];
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    open = async (_req, out, ctx) => {
      signals.push(ctx.signal);
      await out.opened();
      await Promise.race([released, new Promise((r) => ctx.signal.addEventListener("abort", r))]);
      if (ctx.signal.aborted) return;
      await out.document(0, { id: 1 });
      await out.checkpoint({ updated: {} });
    };
    const server = await start(64 * 1024);

    // Client A: a session that stays open across B's failure.
    const a = openStream<cap.Request, cap.Response>(client(server), captureService);
    const aDone = outcome(a);
    a.write(openReq);
    expect((await nextResponse(a)).opened).toBeDefined();

    // Client B: a session, then a message one byte over the cap.
    const b = openRawStream<cap.Response>(client(server), captureService);
    const bDone = outcome(b);
    b.write(encodeReq(openReq));
    expect((await nextResponse(b)).opened).toBeDefined();
    b.write(Buffer.alloc(64 * 1024 + 1, 0x41));
    const bOut = await bDone;
    expect(bOut.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(bOut.details).toMatch(/larger than max \(65537 vs 65536\)/);
    await eventually(() => signals.length === 2 && signals[1]!.aborted, "B's session to be aborted");
    expect(signals[0]!.aborted).toBe(false);

    // A finishes normally; a new client C is served; a message at the cap passes the transport.
    release();
    const aOut = await aDone;
    expect(aOut.code).toBe(grpc.status.OK);
    expect(aOut.responses.map((r) => (r.captured ? "captured" : r.checkpoint ? "checkpoint" : "opened"))).toEqual(["opened", "captured", "checkpoint"]);
    const c = await exchange<cap.Request, cap.Response>(client(server), captureService, [specReq]);
    expect(c.code).toBe(grpc.status.OK);
    const atCap = req({ spec: { connectorType: CaptureSpec_ConnectorType.IMAGE, configJson: "{" + " ".repeat(64 * 1024 - 40) + "}" } });
    const size = encodeReq(atCap).length;
    expect(size).toBeLessThanOrEqual(64 * 1024);
    expect((await exchange<cap.Request, cap.Response>(client(server), captureService, [atCap])).code).toBe(grpc.status.OK);
    expect(await server.close(5_000)).toEqual({ forced: false });
  });

  it("defaults to 256 MiB like stdio, answering a 4 GiB announcement at once, and refuses a nonsensical cap", async () => {
    const server = await start();
    // A raw HTTP/2 client: announce messages by their 5-byte gRPC prefix and
    // send only a few bytes of the body; the server must answer from the prefix.
    const announce = (length: number) =>
      new Promise<{ status: string | undefined; message: string | undefined }>((resolve, reject) => {
        const session = http2.connect(`http://127.0.0.1:${server.port}`);
        session.on("error", () => {});
        session.on("close", () => reject(new Error("the session closed without a grpc-status")));
        const stream = session.request({
          ":method": "POST",
          ":path": `/${captureService.name}/${captureService.method}`,
          "content-type": "application/grpc",
          te: "trailers",
        });
        // The status comes in trailers, or in the headers of a trailers-only answer.
        const done = (h: http2.IncomingHttpHeaders) => {
          if (h["grpc-status"] === undefined) return;
          session.destroy();
          resolve({ status: h["grpc-status"] as string, message: h["grpc-message"] as string | undefined });
        };
        stream.on("response", done);
        stream.on("trailers", done);
        stream.on("data", () => {});
        stream.on("error", () => {});
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(length, 1);
        stream.write(Buffer.concat([prefix, Buffer.alloc(1024)]));
      });
    const huge = await announce(0xffffffff);
    expect(Number(huge.status)).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(decodeURIComponent(huge.message ?? "")).toMatch(/4294967295 vs 268435456/);
    const over = await announce(256 * 1024 * 1024 + 1);
    expect(Number(over.status)).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect((await exchange<cap.Request, cap.Response>(client(server), captureService, [specReq])).code).toBe(grpc.status.OK);
    await expect(serveGrpc(connector, { port: 0, log: quiet, maxMessageBytes: 0 })).rejects.toThrow(/largest message size/);
  });
});

describe("gRPC status of connector errors", () => {
  const cases: Array<[ConnectorError, grpc.status]> = [
    [new ConnectorError("the server is out of connections", { condition: "exhausted" }), grpc.status.RESOURCE_EXHAUSTED],
    [new ConnectorError("the server is starting up", { condition: "unavailable" }), grpc.status.UNAVAILABLE],
    [new ConnectorError("field x is missing"), grpc.status.INVALID_ARGUMENT],
  ];
  for (const [err, code] of cases) {
    it(`ends with ${grpc.status[code]} for "${err.message}"`, async () => {
      discover = async () => {
        throw err;
      };
      const out = await exchange<cap.Request, cap.Response>(client(await start()), captureService, [discoverReq]);
      expect(out.code).toBe(code);
      expect(out.details).toBe(err.message);
    });
  }
});
