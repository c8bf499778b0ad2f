/**
 * Creds-file authentication against a real nats-server in operator mode:
 * the operator, account and user JWTs are minted by the test
 * (test/support/nats-jwt.ts), so a .creds text is verified by the server
 * exactly as one made by `nsc` would be.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNats } from "./connect.js";
import { startNatsServer, type NatsServer } from "../../test/support/nats-server.js";
import { natsJwtSetup, type NatsJwtSetup } from "../../test/support/nats-jwt.js";

let setup: NatsJwtSetup;
let server: NatsServer;

beforeAll(async () => {
  setup = natsJwtSetup();
  server = await startNatsServer(setup.serverConf, { jetstream: false });
});
afterAll(async () => {
  await server?.stop();
});

describe("connectNats with a creds file", () => {
  it("authenticates a user whose JWT chains to the trusted operator, and exchanges messages", async () => {
    const nc = await connectNats({ servers: server.url, auth: { type: "creds", creds: setup.creds } });
    const sub = nc.subscribe("creds.check", { max: 1 });
    nc.publish("creds.check", "hello");
    for await (const m of sub) expect(m.string()).toBe("hello");
    await nc.close();
  });

  it("accepts the creds pasted without the final newline or with CRLF line ends", async () => {
    for (const creds of [setup.creds.trimEnd(), setup.creds.replace(/\n/g, "\r\n")]) {
      const nc = await connectNats({ servers: server.url, auth: { type: "creds", creds } });
      await nc.flush();
      await nc.close();
    }
  });

  it("is refused for a user of an unknown account, without showing the creds", async () => {
    const err = await connectNats({ servers: server.url, auth: { type: "creds", creds: setup.foreignCreds } }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/refused the credentials/);
    const seed = /SU[A-Z2-7]{40,}/.exec(setup.foreignCreds)![0];
    expect(err.message).not.toContain(seed);
    expect(err.message).not.toContain(setup.foreignCreds.split("\n")[1]!.slice(0, 40));
  });

  it("is refused without credentials by a server in operator mode", async () => {
    const err = await connectNats({ servers: server.url }).catch((e) => e);
    expect(err.message).toMatch(/refused the credentials/);
  });
});
