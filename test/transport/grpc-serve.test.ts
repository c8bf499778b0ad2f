/**
 * `tributary serve` as a user runs it: a real process, reached with
 * `buf curl` through server reflection only (no .proto files), stopped with
 * SIGTERM. Needs the compiled CLI (`npx tsc -p .`).
 */
import { afterEach, describe, expect, it } from "vitest";
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import * as cap from "../../src/gen/capture/capture_pb.js";
import { captureService } from "../../src/transport/grpc-services.js";
import { connect, exchange, healthCheck, healthClient, nextResponse, openStream, outcome } from "./grpc-client.js";

const root = path.resolve(import.meta.dirname, "../..");
const bin = path.join(root, "bin/tributary");
const buf = path.join(root, "node_modules/.bin/buf");
const run = promisify(execFile);

interface Served {
  proc: ChildProcess;
  port: number;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const procs: ChildProcess[] = [];

afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
});

/** Starts `tributary serve` and waits for its `listening on` line. */
async function serve(args: string[]): Promise<Served> {
  if (!existsSync(path.join(root, "dist/src/cli/serve.js"))) {
    throw new Error("dist/src/cli/serve.js is missing: run `npx tsc -p .` before this test");
  }
  const proc = spawn(process.execPath, [bin, "serve", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  procs.push(proc);
  let out = "";
  let err = "";
  proc.stderr!.on("data", (d) => (err += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout!.on("data", (d) => {
      out += d;
      const m = /^listening on 127\.0\.0\.1:(\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    void exit.then(({ code }) => reject(new Error(`tributary serve exited (${code}) before listening: ${err}`)));
  });
  return { proc, port, stdout: () => out, stderr: () => err, exit };
}

async function bufCurl(args: string[]): Promise<string> {
  const { stdout } = await run(buf, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], {
    cwd: root,
    timeout: 30_000,
  });
  return stdout;
}

const enc = new TextEncoder();

/** Opens a source-hello-world session of one binding at 50 greetings/s. */
function helloOpen(): cap.Request {
  return create(cap.RequestSchema, {
    open: {
      capture: {
        name: "acme/hello",
        configJson: enc.encode(`{"rate":50}`),
        bindings: [
          {
            resourceConfigJson: enc.encode(`{"name":"greetings"}`),
            resourcePath: ["greetings"],
            collection: { name: "acme/greetings", key: ["/count"] },
            stateKey: "greetings",
          },
        ],
      },
      version: "v1",
      range: { keyBegin: 0, keyEnd: 0xffffffff, rClockBegin: 0, rClockEnd: 0xffffffff },
      stateJson: "{}",
    },
  } as never);
}

describe("tributary serve", () => {
  it("serves source-hello-world to buf curl through reflection and exits 0 on SIGTERM", async () => {
    const s = await serve(["source-hello-world", "--port", "0"]);
    const base = `http://127.0.0.1:${s.port}`;

    const methods = (await bufCurl(["--list-methods", base])).split("\n");
    expect(methods).toContain("capture.Connector/Capture");
    expect(methods).toContain("grpc.health.v1.Health/Check");
    expect(methods).not.toContain("materialize.Connector/Materialize");

    // capture.proto's config_json is a string field with JSON name "config".
    const spec = await bufCurl(["-d", `{"spec":{"connectorType":"IMAGE","config":"{}"}}`, `${base}/capture.Connector/Capture`]);
    expect(spec).toContain(`"protocol": 3032023`);
    expect(spec).toContain(`"resourcePathPointers"`);

    const discovered = JSON.parse(
      await bufCurl(["-d", `{"discover":{"connectorType":"IMAGE","config":"{\\"rate\\":2}"}}`, `${base}/capture.Connector/Capture`]),
    );
    expect(discovered.discovered.bindings[0].recommendedName).toBe("greetings");
    expect(JSON.parse(discovered.discovered.bindings[0].resourceConfig)).toEqual({ name: "greetings" });

    const health = JSON.parse(await bufCurl(["-d", `{"service":"capture.Connector"}`, `${base}/grpc.health.v1.Health/Check`]));
    expect(health).toEqual({ status: "SERVING" });

    // A bad config is the user's mistake: INVALID_ARGUMENT naming the field.
    const bad = await bufCurl([
      "-d",
      `{"discover":{"connectorType":"IMAGE","config":"{\\"rate\\":-1}"}}`,
      `${base}/capture.Connector/Capture`,
    ]).then(
      () => "succeeded",
      (e: { stdout: string; stderr: string }) => e.stdout + e.stderr,
    );
    expect(bad).toContain("invalid_argument");
    expect(bad).toContain("/rate");

    expect(s.stdout()).toBe(`listening on 127.0.0.1:${s.port}\n`);
    s.proc.kill("SIGTERM");
    expect(await s.exit).toEqual({ code: 0, signal: null });
    expect(s.stderr()).toContain(`"msg":"stopped"`);
  });

  it("drains an open capture session on SIGTERM and exits non-zero when the grace period runs out", async () => {
    const s = await serve(["source-hello-world", "--port", "0", "--grace-period", "1"]);
    const client = connect(s.port);
    const health = healthClient(s.port);
    try {
      expect(await healthCheck(health, "")).toBe("SERVING");
      const call = openStream<cap.Request, cap.Response>(client, captureService);
      const done = outcome(call);
      call.write(helloOpen());
      expect((await nextResponse(call)).opened).toBeDefined();
      expect((await nextResponse(call)).captured).toBeDefined();

      // The session never ends on its own: SIGTERM waits the 1 s grace
      // period, cancels it, and reports the forced stop in the exit code.
      const t0 = Date.now();
      s.proc.kill("SIGTERM");
      const exit = await s.exit;
      expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
      expect(exit).toEqual({ code: 1, signal: null });
      expect((await done).code).not.toBe(grpc.status.OK);
      expect(s.stderr()).toContain("grace period over");
    } finally {
      client.close();
      health.close();
    }
  });

  it("lets an open session finish after SIGTERM and then exits 0", async () => {
    const s = await serve(["source-hello-world", "--port", "0", "--grace-period", "20"]);
    const client = connect(s.port);
    try {
      const call = openStream<cap.Request, cap.Response>(client, captureService);
      const done = outcome(call);
      call.write(helloOpen());
      expect((await nextResponse(call)).opened).toBeDefined();
      s.proc.kill("SIGTERM");
      // Still streaming while draining.
      await new Promise((r) => setTimeout(r, 200));
      expect(s.proc.exitCode).toBe(null);
      expect((await nextResponse(call)).captured).toBeDefined();
      // The runtime closes its side: the session ends and so does the server.
      const t0 = Date.now();
      call.end();
      expect((await done).code).toBe(grpc.status.OK);
      expect(await s.exit).toEqual({ code: 0, signal: null });
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      client.close();
    }
  });

  it("cuts the drain short on a second SIGINT", async () => {
    const s = await serve(["source-hello-world", "--port", "0"]);
    const client = connect(s.port);
    try {
      const call = openStream<cap.Request, cap.Response>(client, captureService);
      const done = outcome(call);
      call.write(helloOpen());
      expect((await nextResponse(call)).opened).toBeDefined();
      const t0 = Date.now();
      s.proc.kill("SIGINT");
      await new Promise((r) => setTimeout(r, 300));
      expect(s.proc.exitCode).toBe(null); // draining, default grace period 30 s
      s.proc.kill("SIGINT");
      expect(await s.exit).toEqual({ code: 1, signal: null });
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect((await done).code).not.toBe(grpc.status.OK);
    } finally {
      client.close();
    }
  });

  it("ends a request above --max-message-size with RESOURCE_EXHAUSTED and goes on serving", async () => {
    const s = await serve(["source-hello-world", "--port", "0", "--max-message-size", "1KiB"]);
    const client = connect(s.port);
    try {
      const big = create(cap.RequestSchema, { spec: { connectorType: 1, configJson: JSON.stringify({ pad: "x".repeat(2048) }) } } as never);
      const over = await exchange<cap.Request, cap.Response>(client, captureService, [big]);
      expect(over.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      const small = create(cap.RequestSchema, { spec: { connectorType: 1, configJson: "{}" } } as never);
      expect((await exchange<cap.Request, cap.Response>(client, captureService, [small])).code).toBe(grpc.status.OK);
    } finally {
      client.close();
    }
    expect(s.stderr()).toContain(`"maxMessageBytes":1024`);
    s.proc.kill("SIGTERM");
    expect(await s.exit).toEqual({ code: 0, signal: null });
  });

  it("rejects bad arguments with a message naming the option", async () => {
    const size = await run(process.execPath, [bin, "serve", "source-hello-world", "--max-message-size", "lots"], { cwd: root }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(size.code).not.toBe(0);
    expect(size.stderr).toContain("--max-message-size must be a byte count");

    const result = await run(process.execPath, [bin, "serve", "source-hello-world", "--port", "http"], { cwd: root }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("--port must be an integer");

    const unknown = await run(process.execPath, [bin, "serve", "no-such-connector", "--port", "0"], { cwd: root }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain(`unknown connector "no-such-connector"`);
  });
});
