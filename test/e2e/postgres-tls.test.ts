/**
 * sslmode, as both Postgres connectors play it, against real servers: a
 * throwaway cluster with TLS on (a self-signed certificate made here) whose
 * pg_hba.conf refuses plain text to one role, and the shared server, which
 * has no TLS at all.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { startPgCluster, type PgCluster } from "../support/pg-cluster.js";
import { connect as matConnect } from "../../connectors/materialize-postgres/client.js";
import { resolveEndpoint, type SslMode } from "../../connectors/materialize-postgres/config.js";
import { connect as srcConnect } from "../../connectors/source-postgres/connection.js";
import { normalizeConfig } from "../../connectors/source-postgres/config.js";
import source from "../../connectors/source-postgres/connector.js";

let tls: PgCluster;
let certDir: string;
/** The server's self-signed certificate, which is its own CA. */
let rootCert: string;

beforeAll(async () => {
  certDir = mkdtempSync(join(tmpdir(), "pg-tls-"));
  const key = join(certDir, "server.key"), crt = join(certDir, "server.crt");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=tributary-test", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", crt], { stdio: "ignore" });
  rootCert = readFileSync(crt, "utf8");
  tls = await startPgCluster({
    settings: { ssl: "on", ssl_cert_file: "server.crt", ssl_key_file: "server.key" },
    // The role tls_only may not connect in plain text.
    hbaFirst: ["hostnossl all tls_only 127.0.0.1/32 reject"],
    files: { "server.key": readFileSync(key, "utf8"), "server.crt": readFileSync(crt, "utf8") },
  });
  await tls.query("postgres", "CREATE ROLE tls_only LOGIN SUPERUSER");
}, 120_000);

afterAll(async () => {
  await tls?.stop();
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

async function encrypted(client: pg.Client): Promise<boolean> {
  try {
    const r = await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    return r.rows[0].ssl as boolean;
  } finally {
    await client.end();
  }
}

const shared = { host: "127.0.0.1", port: 5432, user: "postgres" };

describe("materialize-postgres sslmode", () => {
  const ep = (server: { host: string; port: number }, user: string, sslmode?: SslMode, sslrootcert?: string) =>
    resolveEndpoint({ address: `${server.host}:${server.port}`, user, database: "postgres", ...(sslmode ? { advanced: { sslmode, sslrootcert } } : {}) });

  it("uses TLS when the server offers it under prefer (the default) and require, and not under disable or allow", async () => {
    expect(await encrypted(await matConnect(ep(tls, "postgres")))).toBe(true);
    expect(await encrypted(await matConnect(ep(tls, "postgres", "require")))).toBe(true);
    expect(await encrypted(await matConnect(ep(tls, "postgres", "disable")))).toBe(false);
    expect(await encrypted(await matConnect(ep(tls, "postgres", "allow")))).toBe(false);
  });

  it("under allow, retries with TLS when the server refuses plain text; under disable, says TLS may be required", async () => {
    expect(await encrypted(await matConnect(ep(tls, "tls_only", "allow")))).toBe(true);
    const err = await matConnect(ep(tls, "tls_only", "disable")).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/pg_hba\.conf does not admit this connection.*set advanced\.sslmode to require/);
  });

  it("refuses an untrusted certificate under verify-ca and verify-full", async () => {
    for (const mode of ["verify-ca", "verify-full"] as const) {
      const err = await matConnect(ep(tls, "postgres", mode)).then(() => undefined, (e: Error) => e);
      expect(err?.message).toMatch(new RegExp(`TLS certificate not trusted under sslmode ${mode}`));
    }
  });

  it("trusts the CA given as sslrootcert: verify-full checks the host name too, verify-ca does not", async () => {
    expect(await encrypted(await matConnect(ep(tls, "postgres", "verify-full", rootCert)))).toBe(true);
    const byName = { host: "localhost", port: tls.port };
    expect(await encrypted(await matConnect(ep(byName, "postgres", "verify-ca", rootCert)))).toBe(true);
    const err = await matConnect(ep(byName, "postgres", "verify-full", rootCert)).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/TLS certificate not trusted under sslmode verify-full: .*localhost/);
    expect(() => ep(tls, "postgres", "verify-ca", "not a certificate")).toThrow(/advanced\.sslrootcert must hold PEM certificates/);
  });

  it("falls back to plain text on a server without TLS under prefer, and names the cause under require", async () => {
    expect(await encrypted(await matConnect(ep(shared, "postgres")))).toBe(false);
    const err = await matConnect(ep(shared, "postgres", "require")).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/does not support TLS, which sslmode require requires/);
  });
});

describe("source-postgres sslmode", () => {
  const cfg = (server: { host: string; port: number }, user: string, sslmode: SslMode) =>
    normalizeConfig({ address: `${server.host}:${server.port}`, user, database: "postgres", sslmode });

  it("connects as libpq would for every mode, replication connections included", async () => {
    expect(await encrypted(await srcConnect(cfg(tls, "postgres", "prefer")))).toBe(true);
    expect(await encrypted(await srcConnect(cfg(tls, "postgres", "disable")))).toBe(false);
    expect(await encrypted(await srcConnect(cfg(tls, "tls_only", "allow")))).toBe(true);
    expect(await encrypted(await srcConnect(cfg(shared, "postgres", "prefer")))).toBe(false);
    // A replication connection negotiates TLS the same way.
    const repl = await srcConnect(cfg(tls, "tls_only", "allow"), { replication: true });
    const r = await repl.query("IDENTIFY_SYSTEM");
    expect(r.rows.length).toBe(1);
    await repl.end();
    await expect(srcConnect(cfg(tls, "postgres", "verify-full"))).rejects.toThrow(/self[- ]signed|certificate/);
    const verified = normalizeConfig({ address: `127.0.0.1:${tls.port}`, user: "postgres", sslmode: "verify-full", sslrootcert: rootCert });
    expect(await encrypted(await srcConnect(verified, { replication: true }).then(async (c) => (await c.end(), srcConnect(verified))))).toBe(true);
    expect(() => normalizeConfig({ address: "db", user: "u", sslrootcert: "nope" })).toThrow(/\/sslrootcert must hold PEM certificates/);
  });

  it("explains connection failures in Discover: untrusted certificate, TLS required, no TLS", async () => {
    const discover = (c: ReturnType<typeof cfg>) => source.discover!(c as never, {} as never).then(() => undefined, (e: Error) => e.message);
    expect(await discover(cfg(tls, "postgres", "verify-full"))).toMatch(/^cannot connect to PostgreSQL at 127\.0\.0\.1:\d+: TLS certificate not trusted under sslmode verify-full/);
    expect(await discover(cfg(tls, "tls_only", "disable"))).toMatch(/pg_hba\.conf does not admit this connection.*set sslmode to require/);
    expect(await discover(cfg(shared, "postgres", "require"))).toMatch(/does not support TLS, which sslmode require requires/);
  });
});
