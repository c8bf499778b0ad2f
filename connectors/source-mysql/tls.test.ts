/**
 * TLS: a throwaway MariaDB with a certificate made for the test, and a
 * capture user the server admits only over TLS (REQUIRE SSL), so the
 * backfill's and the binlog reader's connections can only work encrypted.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMariaDb, type MariaDbServer } from "../../test/support/mariadb-server.js";
import { configFor, MemoryOutput, modeOf, startCapture } from "./testing.js";

const run = promisify(execFile);
let db: MariaDbServer;
let plainDb: MariaDbServer;
let certDir: string;
let ca: string;

beforeAll(async () => {
  certDir = await mkdtemp(join(tmpdir(), "tributary-mysql-tls-"));
  const f = (n: string) => join(certDir, n);
  // A CA, and a server certificate it signs, for 127.0.0.1.
  await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=tributary test CA", "-keyout", f("ca.key"), "-out", f("ca.pem")]);
  await run("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", f("server.key"), "-out", f("server.csr")]);
  await run("openssl", ["x509", "-req", "-in", f("server.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-days", "2", "-out", f("server.pem")]);
  ca = await readFile(f("ca.pem"), "utf8");
  [db, plainDb] = await Promise.all([
    startMariaDb({ args: [`--ssl-ca=${f("ca.pem")}`, `--ssl-cert=${f("server.pem")}`, `--ssl-key=${f("server.key")}`] }),
    startMariaDb(),
  ]);
  await db.query(`CREATE USER tls_only REQUIRE SSL; GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO tls_only;
    CREATE DATABASE enc; CREATE TABLE enc.t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO enc.t VALUES (1, 'one');`);
}, 180_000);
afterAll(async () => {
  await Promise.all([db?.stop(), plainDb?.stop()]);
  await rm(certDir, { recursive: true, force: true });
});

describe("source-mysql TLS", () => {
  const modes: { sslmode: string; withCa?: boolean }[] = [{ sslmode: "verify_ca", withCa: true }, { sslmode: "preferred" }, { sslmode: "required" }];
  for (const advanced of modes) {
    it(`backfills and streams over TLS with sslmode ${advanced.sslmode}`, async () => {
      const config = configFor(db, {
        user: "tls_only",
        advanced: { sslmode: advanced.sslmode, ...(advanced.withCa ? { sslrootcert: ca } : {}) },
      });
      const out = new MemoryOutput();
      const cap = startCapture(config, [{ namespace: "enc", stream: "t" }], out);
      try {
        await out.until(() => modeOf(out.state, "enc%2Ft") === "active", 60_000, "backfill");
        const id = 100 + Math.floor(Math.random() * 1e6);
        await db.query(`INSERT INTO enc.t VALUES (?, 'new')`, [id]);
        await out.until(() => out.committed.some((d) => d.doc.id === id), 60_000, "the insert over the binlog");
        expect(out.committed.some((d) => d.doc.id === 1 && d.doc._meta.source.snapshot)).toBe(true);
      } finally {
        await cap.stop();
      }
      expect(cap.error).toBeUndefined();
    }, 120_000);
  }

  it("is refused in plain text by a user that requires TLS, and names the field when the server has no TLS", async () => {
    const refused = startCapture(configFor(db, { user: "tls_only", advanced: { sslmode: "disabled" } }), [{ namespace: "enc", stream: "t" }], new MemoryOutput());
    await refused.done.catch(() => {});
    expect(String((refused.error as Error)?.message)).toContain("refused user tls_only");

    const noTls = startCapture(configFor(plainDb, { advanced: { sslmode: "required" } }), [{ namespace: "enc", stream: "t" }], new MemoryOutput());
    await noTls.done.catch(() => {});
    expect(String((noTls.error as Error)?.message)).toContain("does not offer TLS, but /advanced/sslmode is required");
  }, 180_000);

  it("asks for the root certificate when verifying", async () => {
    const cap = startCapture(configFor(db, { advanced: { sslmode: "verify_identity" } }), [{ namespace: "enc", stream: "t" }], new MemoryOutput());
    await cap.done.catch(() => {});
    expect(String((cap.error as Error)?.message)).toContain("/advanced/sslrootcert is required when /advanced/sslmode is verify_identity");
  });
});
