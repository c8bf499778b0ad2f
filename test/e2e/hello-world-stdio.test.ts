import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { RequestSchema, ResponseSchema, type Request } from "../../src/gen/capture/capture_pb.js";
import { applyStateUpdate } from "../../src/sdk/state.js";
import { ConnectorProcess, TRIBUTARY } from "../support/process.js";

const req = (r: object): Request => create(RequestSchema, r as never);

function helloWorld(wire: "json" | "proto") {
  return new ConnectorProcess(["node", TRIBUTARY, "run", "source-hello-world"], wire, RequestSchema, ResponseSchema);
}

function openRequest(state: unknown, config: object = { rate: 0, perCheckpoint: 3 }) {
  return req({
    open: {
      capture: {
        name: "acme/hello",
        configJson: new TextEncoder().encode(JSON.stringify(config)),
        bindings: [
          {
            resourceConfigJson: new TextEncoder().encode('{"name":"greetings"}'),
            resourcePath: ["greetings"],
            stateKey: "greetings",
            collection: { name: "acme/greetings", key: ["/count"] },
          },
        ],
      },
      range: { keyBegin: 0, keyEnd: 0xffffffff, rClockBegin: 0, rClockEnd: 0xffffffff },
      stateJson: JSON.stringify(state),
    },
  });
}

describe.each(["json", "proto"] as const)("source-hello-world over stdio (%s codec)", (wire) => {
  it("answers Spec with one response and exits 0", async () => {
    const p = helloWorld(wire);
    p.send(req({ spec: { connectorType: 7 } }));
    p.close();
    expect(await p.exited).toBe(0);
    expect(p.received).toHaveLength(1);
    expect(p.received[0]!.spec!.protocol).toBe(3032023);
    expect(JSON.parse(p.received[0]!.spec!.resourceConfigSchemaJson).required).toEqual(["name"]);
  });

  it("answers Discover with one binding", async () => {
    const p = helloWorld(wire);
    p.send(req({ discover: { connectorType: 7, configJson: '{"rate":2}' } }));
    p.close();
    expect(await p.exited).toBe(0);
    const bindings = p.received[0]!.discovered!.bindings;
    expect(bindings.map((b) => [b.recommendedName, b.key, JSON.parse(b.resourceConfigJson)])).toEqual([
      ["greetings", ["/count"], { name: "greetings" }],
    ]);
  });

  it("resumes after a restart from the last checkpoint, with no gap and no repeat", async () => {
    let state: unknown = {};
    const counts: number[] = [];
    for (let session = 0; session < 3; session++) {
      const p = helloWorld(wire);
      p.send(openRequest(state));
      await p.until((rs) => rs.filter((r) => r.checkpoint).length >= 4);
      p.close();
      expect(await p.exited).toBe(0);
      // Only documents followed by a checkpoint are committed: replay the
      // stream as the runtime would and drop the uncommitted tail.
      let pending: number[] = [];
      for (const r of p.received) {
        if (r.captured) pending.push(JSON.parse(r.captured.docJson).count);
        if (r.checkpoint) {
          const s = r.checkpoint.state!;
          state = applyStateUpdate(state, { updated: JSON.parse(new TextDecoder().decode(s.updatedJson)), mergePatch: s.mergePatch });
          counts.push(...pending);
          pending = [];
        }
      }
    }
    expect(counts.length).toBeGreaterThanOrEqual(36);
    expect(counts).toEqual(counts.map((_, i) => i + 1));
  });

  it("fails with the error as the last stderr line on an out-of-order request", async () => {
    const p = helloWorld(wire);
    p.send(req({ acknowledge: { checkpoints: 1 } }));
    p.close();
    expect(await p.exited).toBe(1);
    expect(p.lastLog()).toMatchObject({ level: "error", msg: "capture.Request.Acknowledge is only valid after Open, and this stream has not opened a session" });
  });

  it("reports every violation of an invalid config", async () => {
    const p = helloWorld(wire);
    p.send(req({ discover: { configJson: '{"rate":-1,"perCheckpoint":"many","colour":"blue"}' } }));
    p.close();
    expect(await p.exited).toBe(1);
    const msg = p.lastLog().msg!;
    expect(msg).toMatch(/^invalid endpoint config: /);
    for (const part of ["/rate: must be >= 0", "/perCheckpoint: must be integer", "/colour: is not allowed"]) expect(msg).toContain(part);
  });
});

describe("stdio input errors", () => {
  it("names a JSON request that does not parse", async () => {
    const p = helloWorld("json");
    p.sendRaw('{"spec": {\n');
    p.close();
    expect(await p.exited).toBe(1);
    expect(p.lastLog().msg).toMatch(/could not decode capture.Request #1 from stdin \(json codec\)/);
  });

  it("names a protobuf stream that ends inside a frame", async () => {
    const p = helloWorld("proto");
    p.sendRaw(new Uint8Array([10, 0, 0, 0, 1, 2]));
    p.close();
    expect(await p.exited).toBe(1);
    expect(p.lastLog().msg).toMatch(/frame|partial|ended/i);
  });

  it("does not choke on the --log.level argument older runtimes append", async () => {
    const p = new ConnectorProcess(["node", TRIBUTARY, "run", "source-hello-world", "--log.level=debug"], "json", RequestSchema, ResponseSchema);
    p.send(req({ spec: {} }));
    p.close();
    expect(await p.exited).toBe(0);
    expect(p.received[0]!.spec!.protocol).toBe(3032023);
  });
});
