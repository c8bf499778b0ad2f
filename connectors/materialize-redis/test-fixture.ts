/**
 * For a test file that writes to the real Redis server: a plain connection,
 * one with the connector's scripts loaded, and fresh key namespaces, all
 * dropped and closed after the file's tests.
 */
import { afterAll } from "vitest";
import { withScripts } from "./scripts.js";
import { dropNamespace, namespace, redis } from "./test-support.js";

export function redisFixture() {
  const r = redis();
  const scripted = withScripts(redis());
  const namespaces: string[] = [];
  afterAll(async () => {
    for (const n of namespaces) await dropNamespace(r, n);
    r.disconnect();
    scripted.disconnect();
  });
  const ns = (): string => {
    const n = namespace();
    namespaces.push(n);
    return n;
  };
  return { r, scripted, ns };
}
