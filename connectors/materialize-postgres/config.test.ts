import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/sdk/config.js";
import connector from "./connector.js";
import { resolveEndpoint, resourcePath, type EndpointConfig } from "./config.js";

describe("materialize-postgres configuration", () => {
  it("describes the endpoint the way Flow's UI shows it", () => {
    const props = connector.configSchema.properties as Record<string, Record<string, unknown>>;
    expect(Object.entries(props).filter(([, p]) => "order" in p).sort((a, b) => Number(a[1].order) - Number(b[1].order)).map(([k]) => k)).toEqual([
      "address",
      "user",
      "password",
      "database",
      "schema",
      "hardDelete",
    ]);
    expect(props.password).toMatchObject({ secret: true, type: "string" });
    for (const p of Object.values(props)) expect(p.title && p.description).toBeTruthy();
    const res = connector.resourceConfigSchema.properties as Record<string, Record<string, unknown>>;
    expect(res.table!["x-collection-name"]).toBe(true);
    expect(res.schema!["x-schema-name"]).toBe(true);
    expect(res.delta_updates!["x-delta-updates"]).toBe(true);
  });

  it("applies defaults and validates through the SDK's config parser", () => {
    const cfg = parseConfig<EndpointConfig>(connector.configSchema, JSON.stringify({ address: "db.example.com", user: "flow" }), "endpoint config");
    expect(resolveEndpoint(cfg)).toEqual({
      host: "db.example.com",
      port: 5432,
      user: "flow",
      password: "",
      database: "flow",
      schema: "public",
      hardDelete: false,
      sslmode: "prefer",
    });
    expect(resolveEndpoint({ address: "[::1]:6543", user: "u", schema: "s" })).toMatchObject({ host: "::1", port: 6543, schema: "s" });
    expect(() => parseConfig(connector.configSchema, JSON.stringify({ address: "x", user: "u", advanced: { sslmode: "bogus" } }), "endpoint config")).toThrow(
      /\/advanced\/sslmode/,
    );
    expect(() => parseConfig(connector.configSchema, JSON.stringify({ user: "u" }), "endpoint config")).toThrow(/\/address: is required/);
  });

  it("puts every table at [schema, table], the binding's schema first", () => {
    const ep = resolveEndpoint({ address: "h", user: "u", schema: "flow" });
    expect(resourcePath({ table: "Orders" }, ep)).toEqual(["flow", "Orders"]);
    expect(resourcePath({ table: "Orders", schema: "sales" }, ep)).toEqual(["sales", "Orders"]);
    expect(() => resourcePath({ table: "" }, ep)).toThrow(/"table" is required/);
  });
});
