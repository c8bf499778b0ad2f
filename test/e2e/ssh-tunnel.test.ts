/**
 * networkTunnel.sshForwarding, end to end: an SSH server (ssh2's server, on
 * a real port, public-key auth, direct-tcpip forwarding) stands in for the
 * bastion, and both Postgres connectors reach the shared PostgreSQL through
 * it, replication connections included, and materialize-redis reaches the
 * shared Redis.
 */
import { createConnection } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Server, utils, type Connection } from "ssh2";
import { timingSafeEqual } from "node:crypto";
import { connect as matConnect } from "../../connectors/materialize-postgres/client.js";
import { resolveEndpoint } from "../../connectors/materialize-postgres/config.js";
import { connect as srcConnect } from "../../connectors/source-postgres/connection.js";
import { normalizeConfig } from "../../connectors/source-postgres/config.js";
import { acquireTunnel } from "../../src/net/ssh-tunnel.js";
import { connect as redisConnect } from "../../connectors/materialize-redis/client.js";
import { resolveEndpoint as resolveRedis } from "../../connectors/materialize-redis/config.js";
import { eventually } from "../support/eventually.js";

/**
 * An ed25519 key pair that parses. ssh2's generator writes a malformed
 * private key about once in 200 (OpenSSH's ssh-keygen refuses those too), which
 * failed this file about once in 70 runs with "Malformed OpenSSH private key".
 */
function keyPair(): { private: string; public: string } {
  for (let i = 0; i < 20; i++) {
    const pair = utils.generateKeyPairSync("ed25519");
    if (!(utils.parseKey(pair.private) instanceof Error)) return pair;
  }
  throw new Error("ssh2 generated 20 malformed ed25519 keys in a row");
}
const hostKey = keyPair();
const userKey = keyPair();
const strangerKey = keyPair();
const allowed = utils.parseKey(userKey.public);
if (allowed instanceof Error) throw allowed;

let server: Server;
let sshPort = 0;
/** Forwards the bastion carried, by destination. */
const forwards: string[] = [];
const clients = new Set<Connection>();

beforeAll(async () => {
  server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    clients.add(client);
    client.on("close", () => clients.delete(client));
    client.on("error", () => {});
    client.on("authentication", (ctx) => {
      const ok =
        ctx.method === "publickey" &&
        ctx.username === "flow" &&
        ctx.key.algo === allowed.type &&
        timingSafeEqual(ctx.key.data, allowed.getPublicSSH()) &&
        (!ctx.signature || allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true);
      if (ok) ctx.accept();
      else ctx.reject(["publickey"]);
    });
    client.on("tcpip", (accept, reject, info) => {
      forwards.push(`${info.destIP}:${info.destPort}`);
      const upstream = createConnection(info.destPort, info.destIP);
      upstream.once("connect", () => {
        const stream = accept();
        stream.on("error", () => upstream.destroy());
        upstream.pipe(stream).pipe(upstream);
      });
      upstream.once("error", () => reject());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  sshPort = (server.address() as { port: number }).port;
});

afterAll(async () => {
  for (const c of clients) c.end();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const tunnel = (key = userKey.private, user = "flow") => ({ sshForwarding: { sshEndpoint: `ssh://${user}@127.0.0.1:${sshPort}`, privateKey: key } });

async function whoAmI(client: import("pg").Client): Promise<string> {
  try {
    const r = await client.query("SELECT current_user AS u");
    return r.rows[0].u;
  } finally {
    await client.end();
  }
}

describe("SSH tunnels", () => {
  it("materialize-postgres reaches the database through the bastion, several connections sharing one tunnel", async () => {
    const before = forwards.length;
    const ep = resolveEndpoint({ address: "127.0.0.1:5432", user: "postgres", database: "test", advanced: { sslmode: "disable" }, networkTunnel: tunnel() });
    const [a, b] = await Promise.all([matConnect(ep), matConnect(ep)]);
    expect(await whoAmI(a)).toBe("postgres");
    expect(await whoAmI(b)).toBe("postgres");
    // The probe and both connections went through the bastion.
    expect(forwards.slice(before).filter((f) => f === "127.0.0.1:5432").length).toBeGreaterThanOrEqual(3);
    // Both released: the SSH session is closed.
    await eventually(() => clients.size === 0, "the SSH session to close");
  });

  it("source-postgres opens query and replication connections through it", async () => {
    const cfg = normalizeConfig({ address: "127.0.0.1:5432", user: "postgres", database: "test", sslmode: "prefer", networkTunnel: tunnel() });
    expect(await whoAmI(await srcConnect(cfg))).toBe("postgres");
    const repl = await srcConnect(cfg, { replication: true });
    const r = await repl.query("IDENTIFY_SYSTEM");
    expect(r.rows).toHaveLength(1);
    await repl.end();
  });

  it("materialize-redis reaches Redis through it, and lets the session go when the client ends", async () => {
    const before = forwards.length;
    const ep = resolveRedis({ address: "redis://127.0.0.1:6379", networkTunnel: tunnel() });
    const redis = await redisConnect(ep, "tunnel-test");
    const key = `tunnel-test:${process.pid}`;
    await redis.set(key, "through the bastion", "PX", 10_000);
    expect(await redis.get(key)).toBe("through the bastion");
    expect(forwards.slice(before)).toContain("127.0.0.1:6379");
    redis.disconnect();
    await eventually(() => clients.size === 0, "the SSH session to close");
  });

  it("opens a fresh session after the bastion drops one, even while the old lease is held", async () => {
    const target = { host: "127.0.0.1", port: 5432 };
    const old = await acquireTunnel(tunnel().sshForwarding, target);
    for (const c of clients) c.end();
    await eventually(() => clients.size === 0, "the bastion to drop the session");
    const ep = resolveEndpoint({ address: "127.0.0.1:5432", user: "postgres", database: "test", advanced: { sslmode: "disable" }, networkTunnel: tunnel() });
    expect(await whoAmI(await matConnect(ep))).toBe("postgres");
    old.release();
  });

  it("names the bastion when it refuses the key, and the target when the bastion cannot reach it", async () => {
    await expect(acquireTunnel(tunnel(strangerKey.private).sshForwarding, { host: "127.0.0.1", port: 5432 })).rejects.toThrow(
      new RegExp(`the SSH server flow@127\\.0\\.0\\.1:${sshPort} refused the private key`),
    );
    await expect(acquireTunnel(tunnel().sshForwarding, { host: "127.0.0.1", port: 1 })).rejects.toThrow(/cannot reach 127\.0\.0\.1:1/);
    const ep = resolveEndpoint({ address: "127.0.0.1:5432", user: "postgres", networkTunnel: tunnel(userKey.private, "nobody") });
    await expect(matConnect(ep)).rejects.toThrow(/refused the private key/);
    expect(() => resolveEndpoint({ address: "db", user: "u", networkTunnel: { sshForwarding: { sshEndpoint: "bastion:22", privateKey: userKey.private } } })).toThrow(
      /networkTunnel\.sshForwarding\.sshEndpoint must look like ssh:\/\/user@host/,
    );
    expect(() => normalizeConfig({ address: "db", user: "u", networkTunnel: { sshForwarding: { sshEndpoint: "ssh://u@b", privateKey: "hunter2" } } })).toThrow(
      /privateKey must be a private key/,
    );
  });
});
