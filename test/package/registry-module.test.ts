import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { isModulePath, loadConnector } from "../../connectors/registry.js";

describe("connector registry", () => {
  const dir = mkdtempSync(join(tmpdir(), "tributary-registry-"));

  it("tells module paths from connector names", () => {
    expect(isModulePath("source-postgres")).toBe(false);
    expect(isModulePath("./dist/connector.js")).toBe(true);
    expect(isModulePath("connector.mjs")).toBe(true);
    expect(isModulePath("/app/dist/connector.js")).toBe(true);
  });

  it("loads the default export of a connector module", async () => {
    const file = join(dir, "good.mjs");
    writeFileSync(file, 'export default { protocol: "capture", name: "source-outside" };\n');
    const c = await loadConnector(file);
    expect(c.name).toBe("source-outside");
  });

  it("accepts an export named connector", async () => {
    const file = join(dir, "named.mjs");
    writeFileSync(file, 'export const connector = { protocol: "materialize", name: "materialize-outside" };\n');
    expect((await loadConnector(file)).protocol).toBe("materialize");
  });

  it("says what a module must export", async () => {
    const file = join(dir, "bad.mjs");
    writeFileSync(file, "export const x = 1;\n");
    await expect(loadConnector(file)).rejects.toThrow(/must export a connector .*protocol "capture" or "materialize"/);
  });

  it("says when a module is missing", async () => {
    await expect(loadConnector(join(dir, "missing.js"))).rejects.toThrow(/missing\.js does not exist \(build it first/);
  });

  it("still names the shipped connectors for unknown names", async () => {
    await expect(loadConnector("source-nope")).rejects.toThrow(/known connectors: .*source-hello-world.*module path/);
  });
});
