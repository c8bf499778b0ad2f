/**
 * Validate reads the server's settings: throwaway redis-server processes with
 * eviction, AOF and cluster mode set the way each case needs.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { createLogger } from "../../src/log.js";
import connector from "./connector.js";
import { resolveEndpoint } from "./config.js";
import { connect, redisCondition } from "./client.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { checkServer, judgeServer, parseInfo } from "./server-check.js";
import { collection, req, session } from "./test-support.js";
import { freePort } from "../../test/support/free-port.js";

const servers: ChildProcess[] = [];
const dirs: string[] = [];
afterAll(() => {
  for (const p of servers) p.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Starts redis-server with `args` and returns its address once it answers PING. */
async function redisServer(args: string[]): Promise<string> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "redis-check-"));
  dirs.push(dir);
  servers.push(spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir, ...args], { stdio: "ignore" }));
  const address = `redis://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const c = new Redis(address, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    c.on("error", () => undefined);
    try {
      await c.connect();
      await c.ping();
      return address;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      c.disconnect();
    }
  }
}

const enc = new TextEncoder();

async function validateMessage(config: object): Promise<string | undefined> {
  const s = session(connector);
  await s.push(
    req({
      validate: {
        name: "acme/redis",
        configJson: enc.encode(JSON.stringify(config)),
        bindings: [{ resourceConfigJson: enc.encode(JSON.stringify({ prefix: "p" })), collection: collection() }],
      },
    }),
  );
  s.feed.end();
  return s.done.then(
    () => undefined,
    (e: Error) => e.message,
  );
}

async function warnings(address: string, delivery: "exactly_once" | "at_least_once"): Promise<string[]> {
  const lines: string[] = [];
  const log = createLogger({ level: "warn", write: (l) => lines.push(l) });
  const ep = resolveEndpoint({ address, delivery });
  const redis = new Redis(ep.options);
  try {
    await checkServer(redis, ep, log);
  } finally {
    redis.disconnect();
  }
  return lines.map((l) => JSON.parse(l).msg as string);
}

describe("materialize-redis server checks", () => {
  it("reads INFO's sections", () => {
    const info = parseInfo("# Memory\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n\r\n# Persistence\r\naof_enabled:1\r\n");
    expect(judgeServer(info, "exactly_once")).toEqual({ refuse: [], warn: [] });
  });

  it("refuses an evicting server under exactly_once, naming the setting and the fix; warns under at_least_once", async () => {
    const address = await redisServer(["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru", "--appendonly", "yes"]);
    expect(await validateMessage({ address })).toMatch(/maxmemory-policy allkeys-lru.*staged transactions.*CONFIG SET maxmemory-policy noeviction/);
    expect(await validateMessage({ address, delivery: "at_least_once" })).toBeUndefined();
    expect(await warnings(address, "at_least_once")).toEqual([expect.stringMatching(/Redis may evict keys: materialized keys can disappear/)]);
  });

  it("accepts a noeviction server with AOF silently, and warns when AOF is off", async () => {
    const safe = await redisServer(["--maxmemory", "64mb", "--maxmemory-policy", "noeviction", "--appendonly", "yes"]);
    expect(await validateMessage({ address: safe })).toBeUndefined();
    expect(await warnings(safe, "exactly_once")).toEqual([]);
    const volatile = await redisServer(["--appendonly", "no"]);
    expect(await warnings(volatile, "exactly_once")).toEqual([expect.stringMatching(/AOF persistence is off/)]);
  });

  it("reports a server out of clients as exhausted and one not listening as unavailable", async () => {
    const address = await redisServer(["--maxclients", "1"]);
    // The one client slot frees once the server has seen redisServer()'s probe leave.
    let holder: Redis;
    for (let i = 0; ; i++) {
      holder = new Redis(address, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      holder.on("error", () => undefined);
      try {
        await holder.connect();
        await holder.ping();
        break;
      } catch (err) {
        holder.disconnect();
        if (i > 100) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    try {
      const err = await connect(resolveEndpoint({ address }), "test").then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectorError);
      // The server writes its refusal and closes at once: the client reads
      // either the refusal or a broken pipe, and both are retryable.
      expect(["exhausted", "unavailable"]).toContain((err as ConnectorError).condition);
      if (/max number of clients/.test((err as ConnectorError).message)) expect((err as ConnectorError).condition).toBe("exhausted");
    } finally {
      holder.disconnect();
    }
    expect(redisCondition(new Error("ERR max number of clients reached"))).toBe("exhausted");
    expect(redisCondition(new Error("OOM command not allowed when used memory > 'maxmemory'."))).toBe("exhausted");
    expect(redisCondition(new Error("LOADING Redis is loading the dataset in memory"))).toBe("unavailable");
    expect(redisCondition(new Error("WRONGPASS invalid username-password pair"))).toBeUndefined();
    const down = await connect(resolveEndpoint({ address: `127.0.0.1:${await freePort()}` }), "test").then(() => undefined, (e: unknown) => e);
    expect((down as ConnectorError).message).toMatch(/connection refused/);
    expect((down as ConnectorError).condition).toBe("unavailable");
  });

  it("refuses Redis Cluster", async () => {
    const dir = mkdtempSync(join(tmpdir(), "redis-cluster-"));
    dirs.push(dir);
    const address = await redisServer(["--cluster-enabled", "yes", "--cluster-config-file", join(dir, "nodes.conf")]);
    expect(await validateMessage({ address })).toMatch(/runs Redis Cluster, which this connector does not support/);
  });
});
