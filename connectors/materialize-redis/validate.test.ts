import { afterAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import connector from "./connector.js";
import { parseAddress, resolveEndpoint } from "./config.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { collection, endpoint, namespace, req, session, REDIS_URL } from "./test-support.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

function validateReq(config: object, resources: object[]) {
  return req({
    validate: {
      name: "acme/redis",
      configJson: enc.encode(JSON.stringify(config)),
      bindings: resources.map((r) => ({ resourceConfigJson: enc.encode(JSON.stringify(r)), collection: collection() })),
    },
  });
}

async function validate(config: object, resources: object[]) {
  const s = session(connector);
  await s.push(validateReq(config, resources));
  s.feed.end();
  await s.done;
  return s.sink.sent[0]!.validated!.bindings;
}

async function validateError(config: object, resources: object[] = [{ prefix: "p" }]): Promise<Error> {
  const s = session(connector);
  await s.push(validateReq(config, resources));
  s.feed.end();
  return s.done.then(
    () => {
      throw new Error("validate succeeded");
    },
    (e: Error) => e,
  );
}

const ns = namespace();
const ACL_USER = `${ns}-user`;
const admin = new Redis(REDIS_URL);
afterAll(async () => {
  await admin.acl("DELUSER", ACL_USER).catch(() => undefined);
  admin.disconnect();
});

describe("materialize-redis Validate", () => {
  it("requires keys and the document, forbids fields in json format, recommends top-level scalars in hash format", async () => {
    const [json, hash, deltaHash] = await validate(endpoint(ns), [
      { prefix: `${ns}:a` },
      { prefix: `${ns}:b`, format: "hash" },
      { prefix: `${ns}:c`, format: "hash", delta_updates: true },
    ]);
    const types = (b: typeof json) => Object.fromEntries(Object.entries(b!.constraints).map(([f, c]) => [f, c.type]));
    // 1 required, 2 location required, 3 recommended, 4 optional, 5 forbidden
    expect(types(json)).toEqual({ id: 2, name: 5, n: 5, tags: 5, flow_document: 1 });
    expect(types(hash)).toEqual({ id: 2, name: 3, n: 3, tags: 4, flow_document: 1 });
    expect(types(deltaHash)).toEqual({ id: 2, name: 3, n: 3, tags: 4, flow_document: 4 });
    expect(json!.resourcePath).toEqual([`${ns}:a`]);
    expect([json!.deltaUpdates, deltaHash!.deltaUpdates]).toEqual([false, true]);
  });

  it("names a wrong password, without quoting it and without a stack", async () => {
    await admin.acl("SETUSER", ACL_USER, "on", ">right-password-123", "~*", "+@all");
    const err = await validateError({ address: REDIS_URL, username: ACL_USER, password: "wrong-password-456" });
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.message).toMatch(/^authentication failed at redis:\/\/127\.0\.0\.1:6379: wrong user name or password$/);
    expect(err.message).not.toContain("wrong-password-456");
    // The right password works for the same user.
    const ok = await validate({ address: REDIS_URL, username: ACL_USER, password: "right-password-123" }, [{ prefix: `${ns}:x` }]);
    expect(ok).toHaveLength(1);
  });

  it("names an unreachable host", async () => {
    const refused = await validateError({ address: "127.0.0.1:1" });
    expect(refused).toBeInstanceOf(ConnectorError);
    expect(refused.message).toBe("could not connect to redis://127.0.0.1:1: connection refused (is Redis running there?)");
    const unknown = await validateError({ address: "redis://no-such-host.invalid:6379" });
    expect(unknown.message).toBe('could not connect to redis://no-such-host.invalid:6379: host "no-such-host.invalid" not found');
  });

  it("names a database index the server does not have", async () => {
    const err = await validateError({ address: REDIS_URL, database: 999 });
    expect(err.message).toMatch(/^database index is out of range at redis:\/\/127\.0\.0\.1:6379$/);
  });

  it.each([
    [{ address: "http://x:1" }, /address must use redis:\/\/ or rediss:\/\/, not http:\/\//],
    [{ address: "redis://u:p@x:1" }, /put the user name and password in their own fields/],
    [{ address: "redis://x:1/3" }, /choose the database with the database field/],
    [{ address: "x", database: -1 }, /invalid endpoint config: \/database: must be >= 0/],
    [{ address: "x", delivery: "sometimes" }, /\/delivery: must be equal to one of the allowed values/],
    [{ address: "x", tls: { ca_certificate: "not pem" } }, /tls.ca_certificate must hold PEM text/],
  ])("rejects endpoint config %j", async (config, error) => {
    const err = await validateError(config);
    expect(err.message).toMatch(error);
  });

  it.each([
    [[{ prefix: "a", delta_updates: true, ttl_seconds: 5 }], /binding 0 \(prefix "a"\): ttl_seconds applies to standard updates only/],
    [[{ prefix: "a" }, { prefix: "a" }], /bindings 0 and 1 both use prefix "a"/],
    [[{ prefix: "a" }, { prefix: "a:b" }], /prefix "a:b" of binding 1 lies inside prefix "a" of binding 0/],
    [[{ prefix: "" }], /resource config of binding 0: \/prefix: must NOT have fewer than 1 characters/],
    [[{ prefix: "a", format: "xml" }], /\/format: must be equal to one of the allowed values/],
  ])("rejects resource configs %j", async (resources, error) => {
    const err = await validateError(endpoint(ns), resources);
    expect(err.message).toMatch(error);
  });

  it("parses addresses and TLS options", () => {
    expect(parseAddress("localhost")).toEqual({ host: "localhost", port: 6379, tls: false });
    expect(parseAddress("rediss://cache.example.com:6380")).toEqual({ host: "cache.example.com", port: 6380, tls: true });
    expect(parseAddress("[::1]:7000")).toEqual({ host: "::1", port: 7000, tls: false });
    const ep = resolveEndpoint({ address: "h:1", tls: { enabled: true, skip_verify: true } });
    expect(ep.options.tls).toMatchObject({ rejectUnauthorized: false, servername: "h" });
    expect(resolveEndpoint({ address: "h:1" }).options.tls).toBeUndefined();
  });

  it("labels the at-least-once mode in the Spec", async () => {
    const s = session(connector);
    await s.push(req({ spec: {} }));
    s.feed.end();
    await s.done;
    const schema = JSON.parse(dec.decode(s.sink.sent[0]!.spec!.configSchemaJson));
    expect(schema.properties.delivery.description).toMatch(/at_least_once: .*AT-LEAST-ONCE: writes reach the destination before the runtime commits/);
    expect(schema.properties.password.secret).toBe(true);
    const resource = JSON.parse(dec.decode(s.sink.sent[0]!.spec!.resourceConfigSchemaJson));
    expect(resource.properties.prefix["x-collection-name"]).toBe(true);
    expect(resource.properties.delta_updates["x-delta-updates"]).toBe(true);
  });
});
