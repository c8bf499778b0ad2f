/**
 * Schemas written once with TypeBox: the JSON schema a connector's Spec
 * sends (checked over a real `tributary run` process against the schema
 * materialize-mysql advertised before the move), validation with defaults
 * and secret redaction through the SDK's ajv, Flow's annotation helpers, and
 * config types inferred from the schemas (checked by tsc on this file).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import * as mat from "../../src/gen/materialize/materialize_pb.js";
import { jsonText, parseConfig, redact } from "../../src/sdk/config.js";
import {
  Advanced,
  CollectionName,
  DeltaUpdates,
  Multiline,
  OAuth2Credentials,
  Secret,
  StringEnum,
  Type,
  defineCapture,
  defineMaterialization,
  type Static,
} from "../../src/sdk/index.js";
import { ConnectorProcess, TRIBUTARY } from "../support/process.js";
import { loadConnector } from "../../connectors/registry.js";

/** materialize-mysql's endpoint and resource schemas as its Spec sent them when they were hand-written JSON. */
const MYSQL_SPEC = {
  config: {
    title: "SQL Connection",
    type: "object",
    required: ["address", "user", "database"],
    properties: {
      address: { type: "string", title: "Address", description: "Host and port of the database, as host:port. The port defaults to 3306.", order: 0 },
      user: { type: "string", title: "User", description: "Database user to connect as.", order: 1 },
      password: { type: "string", title: "Password", description: "Password for the specified database user.", secret: true, order: 2 },
      database: {
        type: "string",
        title: "Database",
        description: "Name of the logical database to materialize to; it holds the bound tables and the checkpoints table.",
        order: 3,
      },
      hardDelete: {
        type: "boolean",
        title: "Hard Delete",
        description: "If enabled, items deleted in the source will also be deleted from the destination. By default a deleted item is kept with _meta/op set to 'd' (soft delete).",
        default: false,
        order: 4,
      },
      advanced: {
        type: "object",
        title: "Advanced Options",
        description: "Options for advanced users. You should not typically need to modify these.",
        advanced: true,
        properties: {
          sslmode: {
            type: "string",
            title: "SSL Mode",
            description:
              "preferred (the default) uses TLS when the server offers it; required insists on TLS; verify_ca also checks the certificate chain against the root certificate; verify_identity also checks the host name; disabled connects in plain text.",
            enum: ["disabled", "preferred", "required", "verify_ca", "verify_identity"],
          },
          sslrootcert: { type: "string", title: "SSL Root Certificate", description: "PEM certificate of the CA for verify_ca and verify_identity.", multiline: true },
        },
      },
    },
  },
  resource: {
    title: "SQL Table",
    type: "object",
    required: ["table"],
    properties: {
      table: { type: "string", title: "Table", description: "Name of the database table.", "x-collection-name": true },
      delta_updates: {
        type: "boolean",
        title: "Delta Update",
        description: "Should updates to this table be done via delta updates.",
        default: false,
        "x-delta-updates": true,
      },
    },
  },
};

describe("TypeBox schemas", () => {
  it("materialize-mysql's Spec sends the same schemas as before the move", async () => {
    const p = new ConnectorProcess(["node", TRIBUTARY, "run", "materialize-mysql"], "proto", mat.RequestSchema, mat.ResponseSchema);
    p.send(create(mat.RequestSchema, { spec: { connectorType: 7 } } as never));
    p.close();
    expect(await p.exited).toBe(0);
    const spec = p.received[0]!.spec!;
    expect(JSON.parse(jsonText(spec.configSchemaJson))).toEqual(MYSQL_SPEC.config);
    expect(JSON.parse(jsonText(spec.resourceConfigSchemaJson))).toEqual(MYSQL_SPEC.resource);
  });

  const Config = Type.Object(
    {
      host: Type.String({ title: "Host", order: 0 }),
      password: Type.Optional(Secret({ title: "Password", order: 1 })),
      mode: Type.Optional(StringEnum(["fast", "safe"], { default: "safe" })),
      cert: Type.Optional(Multiline({ title: "Certificate" })),
      advanced: Type.Optional(Advanced({ batch: Type.Optional(Type.Integer({ minimum: 1, default: 100 })) }, { title: "Advanced" })),
      credentials: Type.Optional(OAuth2Credentials("google")),
    },
    { title: "Example", additionalProperties: false },
  );

  /** Endpoint and resource schemas these connectors sent when they were hand-written JSON (dumped before the move). */
  const EXPECTED = JSON.parse(readFileSync(new URL("./connector-schemas.expected.json", import.meta.url), "utf8")) as Record<string, { config: unknown; resource: unknown }>;
  for (const name of ["source-hello-world", "source-http-poll", "source-nats", "materialize-nats"]) {
    it(`${name}'s schemas are the JSON it sent before the move`, async () => {
      const c = await loadConnector(name);
      expect(JSON.parse(JSON.stringify(c.configSchema))).toStrictEqual(EXPECTED[name]!.config);
      expect(JSON.parse(JSON.stringify(c.resourceConfigSchema))).toStrictEqual(EXPECTED[name]!.resource);
    });
  }

  it("renders Flow's annotations as the keywords the UI reads", () => {
    const json = JSON.parse(JSON.stringify(Config));
    expect(json.properties.password).toEqual({ type: "string", title: "Password", order: 1, secret: true });
    expect(json.properties.mode).toEqual({ type: "string", enum: ["fast", "safe"], default: "safe" });
    expect(json.properties.cert.multiline).toBe(true);
    expect(json.properties.advanced.advanced).toBe(true);
    expect(json.properties.credentials["x-oauth2-provider"]).toBe("google");
    expect(json.properties.credentials.required).toEqual(["client_id", "client_secret", "refresh_token"]);
    expect(json.required).toEqual(["host"]);
    expect(JSON.parse(JSON.stringify(CollectionName({ title: "T" })))).toEqual({ type: "string", title: "T", "x-collection-name": true });
    expect(JSON.parse(JSON.stringify(DeltaUpdates()))).toEqual({ type: "boolean", default: false, "x-delta-updates": true });
  });

  it("validates with the SDK's ajv (defaults applied, errors by pointer) and redacts its secrets", () => {
    const cfg = parseConfig<Static<typeof Config>>(Config, '{"host":"h","password":"s3cret","advanced":{}}', "endpoint config");
    expect(cfg.mode).toBe("safe");
    expect(cfg.advanced?.batch).toBe(100);
    expect(() => parseConfig(Config, '{"mode":"slow","extra":1}', "endpoint config")).toThrow(
      /invalid endpoint config: \/host: is required; \/extra: is not allowed; \/mode: must be equal to one of the allowed values/,
    );
    const creds = { client_id: "id", client_secret: "cs", refresh_token: "rt" };
    expect(redact(Config, { ...cfg, credentials: creds })).toMatchObject({
      host: "h",
      password: "<redacted>",
      credentials: { client_id: "<redacted>", client_secret: "<redacted>", refresh_token: "<redacted>" },
    });
  });

  it("types handlers from the schemas (compile-time; tsc checks this file)", () => {
    const Resource = Type.Object({ table: CollectionName(), delta: Type.Optional(DeltaUpdates()) });
    const typed = defineMaterialization({
      protocol: "materialize",
      name: "typed",
      configSchema: Config,
      resourceConfigSchema: Resource,
      documentationUrl: "https://example.com",
      async validate(req) {
        const host: string = req.config.host;
        const mode: "fast" | "safe" | undefined = req.config.mode;
        // @ts-expect-error: not a field of the schema
        void req.config.port;
        return req.bindings.map((b) => ({ constraints: {}, resourcePath: [b.resourceConfig.table, host, String(mode)], deltaUpdates: b.resourceConfig.delta ?? false }));
      },
      async apply() {
        return { actionDescription: "" };
      },
      async open() {
        throw new Error("not used");
      },
    });
    const capture = defineCapture({
      protocol: "capture",
      name: "typed-capture",
      configSchema: Config,
      resourceConfigSchema: Resource,
      documentationUrl: "https://example.com",
      resourcePathPointers: ["/table"],
      async discover(config) {
        // @ts-expect-error: a number is not the string the schema says
        const n: number = config.host;
        void n;
        return [];
      },
      async open() {},
    });
    // Plain JSON schemas keep working, typed by the names given.
    const plain = defineCapture<{ host: string }, { table: string }>({
      ...capture,
      configSchema: { type: "object", properties: { host: { type: "string" } } },
      resourceConfigSchema: { type: "object" },
      async discover(config) {
        return [{ recommendedName: config.host, resourceConfig: { table: "t" }, documentSchema: {}, key: ["/id"] }];
      },
    });
    expect(typed.configSchema).toBe(Config);
    expect(plain.name).toBe("typed-capture");
  });
});
