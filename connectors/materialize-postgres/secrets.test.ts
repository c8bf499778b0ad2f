/**
 * No secret and no document content in what materialize-postgres logs or
 * returns: a password inside a URL in `address`, at trace level over real
 * gRPC, and values PostgreSQL quotes when it refuses a row.
 */
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import * as mat from "../../src/gen/materialize/materialize_pb.js";
import { MaterializationSpec_ConnectorType } from "../../src/gen/flow/flow_pb.js";
import { createLogger } from "../../src/log.js";
import { serveGrpc } from "../../src/transport/grpc.js";
import { materializeService } from "../../src/transport/grpc-services.js";
import { collection, ROOT } from "../../src/sql/test-fixtures.js";
import { connect as grpcConnect, exchange } from "../../test/transport/grpc-client.js";
import connector from "./connector.js";
import { applyRequest, checkpoint, ctx, endpointConfig, materialization, openRequest, transaction } from "./test-support.js";
import { testSchemas } from "./test-schemas.js";

const db = testSchemas("secrets");
const SECRET = "pw-Zq8s3cret";
const enc = new TextEncoder();

describe("secrets in addresses", () => {
  it("never logs (at trace level) or returns a password put in a URL address", async () => {
    const lines: string[] = [];
    const log = createLogger({ level: "trace", write: (l) => lines.push(l) });
    const server = await serveGrpc(connector, { port: 0, log });
    const client = grpcConnect(server.port);
    const coll = collection("acme/x", [{ field: "id", types: ["integer"], key: true }, ROOT]);
    try {
      for (const address of [`postgres://flow:${SECRET}@127.0.0.1:1/db`, `flow:${SECRET}@127.0.0.1:1`]) {
        const config = enc.encode(JSON.stringify({ address, user: "flow", password: SECRET }));
        const validate = create(mat.RequestSchema, {
          validate: {
            name: "acme/mat",
            connectorType: MaterializationSpec_ConnectorType.IMAGE,
            configJson: config,
            bindings: [{ resourceConfigJson: enc.encode(`{"table":"x"}`), collection: coll, fieldConfigJson: enc.encode("{}") }],
          },
        } as never);
        const open = create(mat.RequestSchema, {
          open: {
            materialization: { name: "acme/mat", connectorType: MaterializationSpec_ConnectorType.IMAGE, configJson: config },
            version: "v1",
            range: { keyBegin: 0, keyEnd: 0xffffffff, rClockBegin: 0, rClockEnd: 0xffffffff },
          },
        } as never);
        for (const req of [validate, open]) {
          const out = await exchange<mat.Request, mat.Response>(client, materializeService, [req]);
          expect(out.code).toBe(grpc.status.INVALID_ARGUMENT);
          expect(out.details).toMatch(/"address" must be host or host:port, not a URL/);
          expect(out.details).not.toContain(SECRET);
        }
      }
    } finally {
      client.close();
      await server.close(0);
    }
    const all = lines.join("");
    expect(all).toContain("materialization session config");
    expect(all).toContain("<redacted>");
    expect(all).not.toContain(SECRET);
  });
});

describe("document content in errors", () => {
  it("names binding, row and column instead of quoting a value PostgreSQL refuses", async () => {
    const schema = db.fresh();
    const coll = collection("acme/u", [
      { field: "id", types: ["integer"], key: true },
      { field: "u", types: ["string"], format: "uuid", must: true },
      { field: "n", types: ["integer"], must: true },
      ROOT,
    ]);
    const spec = materialization("acme/mat", endpointConfig(schema), [
      { resource: { table: "t" }, collection: coll, keys: ["id"], values: ["u", "n"], document: "flow_document" },
    ]);
    await connector.apply(applyRequest(spec), ctx());
    const uuid = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";

    const failed = async (stores: Array<{ keyJson: string; valuesJson: string; docJson: string; exists?: boolean }>) => {
      const opened = await connector.open(openRequest(spec), ctx());
      try {
        await transaction(opened.transactor, { stores, checkpoint: checkpoint(1) });
      } catch (err) {
        return (err as Error).message;
      } finally {
        await opened.transactor.destroy!();
      }
      throw new Error("the transaction succeeded");
    };

    // A value the column type refuses, in the second row of a COPY.
    const badUuid = await failed([
      { keyJson: "[1]", valuesJson: `["${uuid}",1]`, docJson: `{"id":1}` },
      { keyJson: "[2]", valuesJson: `["secret-doc-value",2]`, docJson: `{"id":2,"u":"secret-doc-value"}` },
    ]);
    expect(badUuid).toMatch(/invalid input syntax for type uuid: <value>/);
    expect(badUuid).toContain(`binding 0 (table ${schema}.t), row 2 of a staged batch, column u`);
    expect(badUuid).not.toContain("secret-doc-value");

    // A NULL in a NOT NULL column fails in the merge, whose detail would show the whole row.
    const notNull = await failed([{ keyJson: "[3]", valuesJson: `["${uuid}",null]`, docJson: `{"id":3,"secret":"secret-doc-value"}`, exists: true }]);
    expect(notNull).toMatch(/null value in column "n" of relation "t" violates not-null constraint/);
    expect(notNull).not.toContain("secret-doc-value");
  });
});
