/**
 * The gRPC health service follows the connector's own healthCheck: real
 * connectors pointed at a real Redis / PostgreSQL (SERVING) or at a port
 * nothing listens on (NOT_SERVING), asked through the Health/Check RPC.
 * The CLI case needs the compiled CLI (`npx tsc -p .`).
 */
import { afterEach, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import * as mat from "../../src/gen/materialize/materialize_pb.js";
import { serveGrpc, type GrpcServer, type GrpcServeOptions } from "../../src/transport/grpc.js";
import { materializeService } from "../../src/transport/grpc-services.js";
import { ConnectorMetrics } from "../../src/transport/metrics.js";
import { createLogger } from "../../src/log.js";
import { repoRoot } from "../../src/harness/catalog.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import type { Connector, MaterializeConnector } from "../../src/sdk/types.js";
import redis from "../../connectors/materialize-redis/connector.js";
import postgres from "../../connectors/materialize-postgres/connector.js";
import { endpointConfig } from "../../connectors/materialize-postgres/test-support.js";
import mysql from "../../connectors/materialize-mysql/connector.js";
import { MYSQL_URL } from "../../connectors/materialize-mysql/test-support.js";
import sourcePostgres from "../../connectors/source-postgres/connector.js";
import sourceMysql from "../../connectors/source-mysql/connector.js";
import { freePort } from "../support/free-port.js";
import { connect, exchange, healthCheck, healthClient } from "./grpc-client.js";

const REDIS = process.env.REDIS_ADDRESS ?? "127.0.0.1:6379";
const quiet = createLogger({ level: "error", write: () => {} });

const servers: GrpcServer[] = [];
const clients: grpc.Client[] = [];
const procs: ChildProcess[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  await Promise.all(servers.splice(0).map((s) => s.close(0)));
});

async function start(connector: Connector, opts: GrpcServeOptions = {}) {
  const server = await serveGrpc(connector, { port: 0, log: quiet, ...opts });
  servers.push(server);
  const health = healthClient(server.port);
  clients.push(health);
  return { server, health, status: (service = "") => healthCheck(health, service) };
}

/** Polls an async status until it equals `want`; generous for a loaded machine. */
async function until(get: () => Promise<unknown>, want: unknown, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while ((last = await get()) !== want) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}: still ${String(last)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const unreachable = async () => `127.0.0.1:${await freePort()}`;

describe("gRPC health follows the connector's healthCheck", () => {
  it("materialize-redis: NOT_SERVING for a port nothing listens on, counted by kind", async () => {
    const metrics = new ConnectorMetrics("materialize-redis");
    const { status } = await start(redis, { metrics, health: { config: JSON.stringify({ address: await unreachable() }), intervalMs: 200 } });
    await until(() => status(""), "NOT_SERVING", "the server's status");
    expect(await status("materialize.Connector")).toBe("NOT_SERVING");
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^tributary_health_up\{connector="materialize-redis"\} 0$/m);
    expect(text).toMatch(/^tributary_health_check_failures_total\{kind="unavailable",connector="materialize-redis"\} [1-9]/m);
  });

  it("materialize-redis: SERVING when the server answers", async () => {
    const metrics = new ConnectorMetrics("materialize-redis");
    const { status } = await start(redis, { metrics, health: { config: JSON.stringify({ address: REDIS }), intervalMs: 200 } });
    // It starts SERVING: wait for a check to have passed, as the metrics tell.
    await until(async () => (await metrics.registry.getSingleMetricAsString("tributary_health_up")).includes(" 1"), true, "a passing check");
    expect(await status("")).toBe("SERVING");
    expect(await metrics.registry.getSingleMetricAsString("tributary_health_check_failures_total")).not.toMatch(/kind=/);
  });

  it("materialize-postgres: SERVING with a working config, NOT_SERVING for an unknown database", async () => {
    const good = await start(postgres, { health: { config: JSON.stringify(endpointConfig("public")), intervalMs: 300 } });
    const bad = await start(postgres, {
      health: { config: JSON.stringify(endpointConfig("public", { database: `missing_${process.pid}_${Date.now()}` })), intervalMs: 300 },
    });
    await until(() => bad.status(""), "NOT_SERVING", "the status with a missing database");
    expect(await good.status("")).toBe("SERVING");
  });

  it("materialize-mysql: SERVING against MariaDB; every SQL connector NOT_SERVING for a port nothing listens on", async () => {
    const u = new URL(MYSQL_URL);
    const mariadb = { address: `${u.hostname}:${u.port || 3306}`, user: decodeURIComponent(u.username || "root"), password: decodeURIComponent(u.password), database: "mysql" };
    const metrics = new ConnectorMetrics("materialize-mysql");
    const good = await start(mysql, { metrics, health: { config: JSON.stringify(mariadb), intervalMs: 300 } });
    const down = await unreachable();
    const bad = await Promise.all(
      [mysql, sourcePostgres, sourceMysql].map((c) =>
        start(c, { health: { config: JSON.stringify({ address: down, user: "nobody", database: "x" }), intervalMs: 300 } }),
      ),
    );
    for (const b of bad) await until(() => b.status(""), "NOT_SERVING", "the status of a SQL connector pointed at a closed port");
    await until(async () => (await metrics.registry.getSingleMetricAsString("tributary_health_up")).includes(" 1"), true, "a passing MariaDB check");
    expect(await good.status("")).toBe("SERVING");
  });

  it("without a fixed config, checks the config of the most recent Open", async () => {
    const metrics = new ConnectorMetrics("materialize-redis");
    const { server, status } = await start(redis, { metrics, health: { intervalMs: 200 } });
    const client = connect(server.port);
    clients.push(client);
    const open = (address: string) =>
      create(mat.RequestSchema, {
        open: {
          materialization: { name: "acme/health", configJson: new TextEncoder().encode(JSON.stringify({ address })), bindings: [] },
          range: { keyBegin: 0, keyEnd: 0xffffffff, rClockBegin: 0, rClockEnd: 0xffffffff },
        },
      } as never);
    // No config yet: nothing is checked and the server is SERVING.
    expect(await status("")).toBe("SERVING");
    // A session whose destination is down fails, and the health follows it.
    const down = await exchange<mat.Request, mat.Response>(client, materializeService, [open(await unreachable())]);
    expect(down.code).not.toBe(grpc.status.OK);
    await until(() => status(""), "NOT_SERVING", "the status after an Open for an unreachable server");
    // The next Open names a reachable server: SERVING again.
    await exchange<mat.Request, mat.Response>(client, materializeService, [open(REDIS)]);
    await until(() => status(""), "SERVING", "the status after an Open for a reachable server");
  });

  it("keeps SERVING for a connector without a health check, even with a config", async () => {
    const bare: MaterializeConnector = { ...(redis as MaterializeConnector), healthCheck: undefined };
    const metrics = new ConnectorMetrics("bare");
    const { status } = await start(bare, { metrics, health: { config: JSON.stringify({ address: await unreachable() }), intervalMs: 100 } });
    await new Promise((r) => setTimeout(r, 500));
    expect(await status("")).toBe("SERVING");
    expect(await metrics.registry.getSingleMetricAsString("tributary_health_check_failures_total")).not.toMatch(/kind=/);
  });

  it("a check that hangs fails after its timeout; failure messages never carry the config's secrets", async () => {
    const lines: string[] = [];
    const log = createLogger({ level: "debug", write: (l) => lines.push(l) });
    const secret = `pw-${Math.random().toString(36).slice(2)}`;
    let mode: "hang" | "leak" = "hang";
    const probe: MaterializeConnector = {
      ...(redis as MaterializeConnector),
      name: "probe",
      healthCheck: (config: { password?: string }, ctx) =>
        mode === "hang"
          ? new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(new Error("aborted"))))
          : Promise.reject(new ConnectorError(`login as admin with ${config.password} refused`, { condition: "unavailable" })),
    };
    const { status } = await start(probe, { log, health: { config: JSON.stringify({ address: REDIS, password: secret }), intervalMs: 300, timeoutMs: 300 } });
    await until(() => status(""), "NOT_SERVING", "the status of a hanging check");
    expect(lines.join("\n")).toMatch(/health check failed.*took longer than 0\.3s/);
    mode = "leak";
    await until(async () => lines.some((l) => l.includes("refused")), true, "the leaking failure's log line");
    const failure = lines.find((l) => l.includes("refused"))!;
    expect(failure).toContain("login as admin with <redacted> refused");
    expect(lines.join("\n")).not.toContain(secret);
  });

  it("refuses a fixed config that does not validate, before listening", async () => {
    await expect(serveGrpc(redis, { port: 0, log: quiet, health: { config: JSON.stringify({ adress: "x" }) } })).rejects.toThrow(
      /invalid endpoint config of the health check: \/address: is required; \/adress: is not allowed/,
    );
  });
});

describe("tributary serve --health-config --health-interval", () => {
  async function serve(args: string[]): Promise<{ port: number; metrics: string }> {
    const child = spawn(process.execPath, [join(repoRoot(), "bin", "tributary"), "serve", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    procs.push(child);
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    let metrics = "";
    for await (const line of createInterface({ input: child.stdout! })) {
      const m = /^metrics on (\S+)$/.exec(line);
      if (m) metrics = m[1]!;
      const l = /^listening on 127\.0\.0\.1:(\d+)$/.exec(line);
      if (l) return { port: Number(l[1]), metrics };
    }
    throw new Error(`tributary serve exited before listening: ${err}`);
  }

  it("reports NOT_SERVING through Health/Check and the metrics endpoint", async () => {
    const dir = mkdtempSync(join(tmpdir(), "health-"));
    const file = join(dir, "config.yaml");
    writeFileSync(file, `address: ${await unreachable()}\npassword: hunter2-${process.pid}\n`);
    const { port, metrics } = await serve(["materialize-redis", "--port", "0", "--metrics-port", "0", "--health-config", file, "--health-interval", "250ms"]);
    const health = healthClient(port);
    clients.push(health);
    await until(() => healthCheck(health, ""), "NOT_SERVING", "the served status");
    const text = await (await fetch(metrics)).text();
    expect(text).toMatch(/^tributary_health_up\{connector="materialize-redis"\} 0$/m);
  });

  it("names a bad --health-interval", async () => {
    const child = spawn(process.execPath, [join(repoRoot(), "bin", "tributary"), "serve", "materialize-redis", "--health-interval", "soon"], { stdio: ["ignore", "ignore", "pipe"] });
    procs.push(child);
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    expect(code).not.toBe(0);
    expect(err).toContain('--health-interval must be a positive duration such as 10s, 500ms or 1m, got "soon"');
  });
});
