/**
 * connectNats against real servers: the shared one (no auth), and throwaway
 * nats-servers requiring a token, a user and password, an NKey, or TLS.
 * Refusals read as such and never show the secret that was refused.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";
import { connectNats, displayServer } from "./connect.js";
import { NATS_URL, startNatsServer, type NatsServer } from "../../test/support/nats-server.js";
import { freePort } from "../../test/support/free-port.js";

const user = nkeys.createUser();
const seed = new TextDecoder().decode(user.getSeed());
let auth: NatsServer;
let tls: NatsServer;
let ca = "";
let certDir = "";

beforeAll(async () => {
  auth = await startNatsServer(`authorization { users: [ {user: "alice", password: "s3cret-pw"}, {nkey: "${user.getPublicKey()}"} ] }`);
  certDir = mkdtempSync(join(tmpdir(), "nats-tls-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", join(certDir, "key.pem"), "-out", join(certDir, "cert.pem")], { stdio: "ignore" });
  ca = readFileSync(join(certDir, "cert.pem"), "utf8");
  tls = await startNatsServer(`tls { cert_file: "${join(certDir, "cert.pem")}", key_file: "${join(certDir, "key.pem")}" }\nauthorization { token: "tok-123456" }`);
});
afterAll(async () => {
  await auth?.stop();
  await tls?.stop();
  rmSync(certDir, { recursive: true, force: true });
});

describe("connectNats", () => {
  it("connects without auth to the shared server and does a round trip", async () => {
    const nc = await connectNats({ servers: NATS_URL });
    await nc.flush();
    expect(nc.info?.jetstream).toBe(true);
    await nc.close();
  });

  it("authenticates by user/password and by NKey seed; a wrong password is refused without being shown", async () => {
    const a = await connectNats({ servers: auth.url, auth: { type: "user_password", user: "alice", password: "s3cret-pw" } });
    await a.flush();
    await a.close();
    const b = await connectNats({ servers: auth.url, auth: { type: "nkey", seed } });
    await b.flush();
    await b.close();
    const err = await connectNats({ servers: auth.url, auth: { type: "user_password", user: "alice", password: "wrong-pw-xyz" } }).catch((e) => e);
    expect(err.message).toMatch(/refused the credentials/);
    expect(err.message).not.toContain("wrong-pw-xyz");
    const none = await connectNats({ servers: auth.url }).catch((e) => e);
    expect(none.message).toMatch(/refused the credentials/);
  });

  it("rejects a malformed NKey seed or creds text by field, without quoting it", async () => {
    const s = await connectNats({ servers: auth.url, auth: { type: "nkey", seed: "not-a-seed-zzz" } }).catch((e) => e);
    expect(s.message).toMatch(/\/auth\/seed/);
    expect(s.message).not.toContain("not-a-seed-zzz");
    const c = await connectNats({ servers: auth.url, auth: { type: "creds", creds: "garbage-creds" } }).catch((e) => e);
    expect(c.message).toMatch(/\/auth\/creds/);
  });

  it("speaks TLS with a private CA and a token; verification fails without the CA; disable fails against a TLS-only server", async () => {
    const nc = await connectNats({ servers: tls.url, auth: { type: "token", token: "tok-123456" }, tls: { mode: "require", ca } });
    await nc.flush();
    expect(nc.info?.tls_required).toBe(true);
    await nc.close();
    const skip = await connectNats({ servers: tls.url, auth: { type: "token", token: "tok-123456" }, tls: { insecureSkipVerify: true } });
    await skip.close();
    const unverified = await connectNats({ servers: tls.url, auth: { type: "token", token: "tok-123456" }, tls: { mode: "require" } }).catch((e) => e);
    expect(unverified.message).toMatch(/TLS/);
    const badToken = await connectNats({ servers: tls.url, auth: { type: "token", token: "bad-tok-987" }, tls: { ca } }).catch((e) => e);
    expect(badToken.message).toMatch(/refused the credentials/);
    expect(badToken.message).not.toContain("bad-tok-987");
    const plain = await connectNats({ servers: tls.url, auth: { type: "token", token: "tok-123456" }, tls: { mode: "disable" } }).catch((e) => e);
    expect(plain).toBeInstanceOf(Error);
    // require against a server without TLS
    const noTls = await connectNats({ servers: NATS_URL, tls: { mode: "require" } }).catch((e) => e);
    expect(noTls.message).toMatch(/TLS|tls/);
  });

  it("an unreachable server is 'unavailable' and the URL's user info is never shown", async () => {
    const port = await freePort();
    const err = await connectNats({ servers: `nats://bob:hunter2pw@127.0.0.1:${port}` }, { timeoutMs: 3000 }).catch((e) => e);
    expect(err.message).toContain(`nats://127.0.0.1:${port}`);
    expect(err.message).not.toContain("hunter2pw");
    expect(err.condition).toBe("unavailable");
    expect(displayServer("tls://u:p@h:1")).toBe("tls://h:1");
  });
});
