/**
 * Every connector image, as built by `make verify-images`: labels, user,
 * production files, Spec through its exact ENTRYPOINT in both codecs equal
 * to the checkout's answer, and source-postgres Discover against a real
 * PostgreSQL. Skipped unless TRIBUTARY_VERIFY_IMAGES names the built tag.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import * as capture from "../../src/gen/capture/capture_pb.js";
import { CaptureSpec_ConnectorType } from "../../src/gen/flow/flow_pb.js";
import { connectorNames } from "../../connectors/registry.js";
import { PG_URL, uniqueSchema } from "../../connectors/materialize-postgres/test-support.js";
import { Container, IMAGE_TAG, imageRef, inspectImage } from "./buildah.js";
import { frame, responses, sameAnswer, verifyImage } from "./verify-image.js";

describe.skipIf(!IMAGE_TAG)("connector images", { timeout: 180_000 }, () => {
  it("exist for every connector of the registry", async () => {
    for (const name of connectorNames()) {
      await expect(inspectImage(imageRef(name)), name).resolves.toBeDefined();
    }
  });

  it.each(connectorNames())("%s: labels, user, files and Spec through its ENTRYPOINT are right", async (name) => {
    expect(await verifyImage(imageRef(name), name)).toEqual([]);
  });

  describe("source-postgres Discover", () => {
    const schema = uniqueSchema("img");
    let admin: pg.Client;
    let c: Container;
    beforeAll(async () => {
      admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      await admin.query(`CREATE SCHEMA ${schema}`);
      await admin.query(`CREATE TABLE ${schema}.accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance numeric(20,4), opened timestamptz)`);
      await admin.query(`CREATE TABLE ${schema}.events (region text, seq int, body jsonb, PRIMARY KEY (region, seq))`);
      c = await Container.create(imageRef("source-postgres"));
    });
    afterAll(async () => {
      await c?.remove();
      await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin?.end();
    });

    it.each(["proto", "json"] as const)("answers as the checkout does (%s)", async (wire) => {
      const u = new URL(PG_URL);
      const config = {
        address: `${u.hostname}:${u.port || 5432}`,
        user: decodeURIComponent(u.username || "postgres"),
        password: decodeURIComponent(u.password),
        database: u.pathname.slice(1) || "postgres",
        sslmode: "disable",
        schemas: [schema],
      };
      const req = create(capture.RequestSchema, { discover: { connectorType: CaptureSpec_ConnectorType.IMAGE, configJson: JSON.stringify(config) } });
      const { problems, image } = await sameAnswer(c, "source-postgres", "Discover", wire, frame(capture.RequestSchema, wire, req));
      expect(problems).toEqual([]);
      const [res] = responses(capture.ResponseSchema, wire, image.stdout);
      expect(res?.discovered?.bindings.map((b) => b.recommendedName).sort()).toEqual([`${schema}/accounts`, `${schema}/events`]);
    });
  });
});
