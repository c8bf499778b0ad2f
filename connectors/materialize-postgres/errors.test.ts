/** Connection and permission problems are reported as clear user errors, never stacks. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { ConnectorError } from "../../src/sdk/errors.js";
import { collection, ROOT } from "../../src/sql/test-fixtures.js";
import connector from "./connector.js";
import type { EndpointConfig } from "./config.js";
import { adminClient, applyRequest, ctx, endpointConfig, materialization, uniqueSchema } from "./test-support.js";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import * as mat from "../../src/gen/materialize/materialize_pb.js";
import { MaterializationSpec_ConnectorType } from "../../src/gen/flow/flow_pb.js";
import { createLogger } from "../../src/log.js";
import { serveGrpc } from "../../src/transport/grpc.js";
import { materializeService } from "../../src/transport/grpc-services.js";
import { connect as grpcConnect, exchange } from "../../test/transport/grpc-client.js";

const coll = collection("acme/x", [{ field: "id", types: ["integer"], key: true }, ROOT]);
const binding = { resource: { table: "x" }, collection: coll, keys: ["id"], values: [], document: "flow_document" };

async function applyError(config: EndpointConfig): Promise<Error> {
  const spec = materialization("acme/mat", config, [binding]);
  try {
    await connector.apply(applyRequest(spec), ctx());
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectorError);
    return err as Error;
  }
  throw new Error("apply succeeded");
}

async function validateError(config: EndpointConfig): Promise<Error> {
  try {
    await connector.validate(
      { name: "acme/mat", config, bindings: [{ resourceConfig: binding.resource, collection: coll, fieldConfig: {}, backfill: 0, groupBy: [] }], request: {} as never },
      ctx(),
    );
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectorError);
    return err as Error;
  }
  throw new Error("validate succeeded");
}

describe("user errors", () => {
  let admin: pg.Client;
  const role = `mpg_limited_${process.pid}`;
  const locked = uniqueSchema("locked");
  beforeAll(async () => {
    admin = await adminClient();
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    await admin.query(`CREATE SCHEMA ${locked}`);
  });
  afterAll(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS ${locked} CASCADE`);
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });

  it("names an unknown database", async () => {
    const err = await validateError(endpointConfig("public", { database: "no_such_db_here" }));
    expect(err.message).toMatch(/database "no_such_db_here" does not exist/);
  });

  it("names a user the server refuses", async () => {
    const err = await applyError(endpointConfig("public", { user: "no_such_user_here" }));
    expect(err.message).toMatch(/authentication failed for user "no_such_user_here"/);
  });

  it("says when nothing listens at the address", async () => {
    const err = await validateError(endpointConfig("public", { address: "127.0.0.1:1" }));
    expect(err.message).toBe("cannot connect to PostgreSQL at 127.0.0.1:1: connection refused (is the address right and the server running?)");
  });

  it("names the privilege missing on a schema the user cannot write to", async () => {
    const err = await applyError(endpointConfig(locked, { user: role }));
    expect(err.message).toMatch(new RegExp(`permission denied for schema ${locked}`));
    expect(err.message).not.toMatch(/\n\s+at /);
  });

  it("rejects a malformed address", async () => {
    await expect(validateError(endpointConfig("public", { address: "host:99999" }))).resolves.toHaveProperty(
      "message",
      'endpoint config field "address" has an invalid port "99999"',
    );
  });
});

describe("server conditions over gRPC", () => {
  let admin: pg.Client;
  const role = `mpg_no_conn_${process.pid}`;
  beforeAll(async () => {
    admin = await adminClient();
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    // The server refuses every session of this role with SQLSTATE 53300, as it does when max_connections is reached.
    await admin.query(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 0`);
  });
  afterAll(async () => {
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });

  async function validateOverGrpc(config: EndpointConfig) {
    const server = await serveGrpc(connector, { port: 0, log: createLogger({ level: "error", write: () => {} }) });
    const client = grpcConnect(server.port);
    try {
      const enc = new TextEncoder();
      const req = create(mat.RequestSchema, {
        validate: {
          name: "acme/mat",
          connectorType: MaterializationSpec_ConnectorType.IMAGE,
          configJson: enc.encode(JSON.stringify(config)),
          bindings: [{ resourceConfigJson: enc.encode(JSON.stringify(binding.resource)), collection: coll, fieldConfigJson: enc.encode("{}") }],
        },
      } as never);
      return await exchange<mat.Request, mat.Response>(client, materializeService, [req]);
    } finally {
      client.close();
      await server.close(0);
    }
  }

  it("answers too many connections with RESOURCE_EXHAUSTED", async () => {
    const out = await validateOverGrpc(endpointConfig("public", { user: role }));
    expect(out.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(out.details).toMatch(/too many connections for role/);
  });

  it("answers an unreachable server with UNAVAILABLE and a wrong database with INVALID_ARGUMENT", async () => {
    const down = await validateOverGrpc(endpointConfig("public", { address: "127.0.0.1:1" }));
    expect(down.code).toBe(grpc.status.UNAVAILABLE);
    const wrong = await validateOverGrpc(endpointConfig("public", { database: "no_such_db_here" }));
    expect(wrong.code).toBe(grpc.status.INVALID_ARGUMENT);
  });
});

// A private cluster with password authentication, since the shared one trusts every local connection.
const canInitdb = (() => {
  try {
    execFileSync("id", ["postgres"], { stdio: "ignore" });
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
})();

describe.skipIf(!canInitdb)("password authentication", () => {
  const bin = "/usr/lib/postgresql/15/bin";
  const port = 50000 + (process.pid % 10000);
  let dir = "";
  const asPostgres = (cmd: string) => execFileSync("su", ["postgres", "-s", "/bin/sh", "-c", cmd], { stdio: "ignore" });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "mpg-auth-"));
    chmodSync(dir, 0o777);
    writeFileSync(join(dir, "pw"), "right-password\n");
    asPostgres(`${bin}/initdb -D ${dir}/data -U postgres --auth=scram-sha-256 --pwfile=${dir}/pw`);
    asPostgres(`${bin}/pg_ctl -D ${dir}/data -o '-p ${port} -k ${dir} -c listen_addresses=127.0.0.1' -l ${dir}/log -w start`);
  });
  afterAll(() => {
    try {
      asPostgres(`${bin}/pg_ctl -D ${dir}/data -m immediate stop`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports a wrong password without echoing it", async () => {
    const cfg = { address: `127.0.0.1:${port}`, user: "postgres", password: "wrong-password", database: "postgres", schema: "public" };
    const err = await validateError(cfg);
    expect(err.message).toBe(`cannot connect to PostgreSQL at 127.0.0.1:${port}: authentication failed for user "postgres" (check user and password)`);
    expect(err.message).not.toContain("wrong-password");
    const ok = await connector.validate(
      { name: "m", config: { ...cfg, password: "right-password" }, bindings: [{ resourceConfig: binding.resource, collection: coll, fieldConfig: {}, backfill: 0, groupBy: [] }], request: {} as never },
      ctx(),
    );
    expect(ok[0]!.resourcePath).toEqual(["public", "x"]);
  });
});
