/**
 * The connectors this project ships, by the name used in `tributary run
 * <name>` and in image names (ghcr.io/<org>/<name>:<tag>). Each is loaded on
 * demand so that one connector's dependencies never slow another's start-up.
 *
 * Anything that looks like a path (it holds a "/" or ends in .js/.mjs) is a
 * connector module instead, such as `./dist/connector.js` of a project built
 * outside this repository: its default export (or an export named
 * `connector`) is the connector.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Connector } from "../src/sdk/types.js";

const loaders: Record<string, () => Promise<Connector>> = {
  "source-hello-world": async () => (await import("./source-hello-world/connector.js")).default,
  "source-postgres": async () => (await import("./source-postgres/connector.js")).default,
  "source-mysql": async () => (await import("./source-mysql/connector.js")).default,
  "source-http-poll": async () => (await import("./source-http-poll/connector.js")).default,
  "source-nats": async () => (await import("./source-nats/connector.js")).default,
  "materialize-postgres": async () => (await import("./materialize-postgres/connector.js")).default,
  "materialize-mysql": async () => (await import("./materialize-mysql/connector.js")).default,
  "materialize-redis": async () => (await import("./materialize-redis/connector.js")).default,
  "materialize-webhook": async () => (await import("./materialize-webhook/connector.js")).default,
  "materialize-nats": async () => (await import("./materialize-nats/connector.js")).default,
};

export function connectorNames(): string[] {
  return Object.keys(loaders).sort();
}

export function isModulePath(nameOrPath: string): boolean {
  return /[/\\]/.test(nameOrPath) || /\.[cm]?js$/.test(nameOrPath);
}

async function loadModule(path: string): Promise<Connector> {
  const file = resolve(path);
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" && (err as Error).message.includes(file)) {
      throw new Error(`connector module ${file} does not exist (build it first, e.g. with npm run build)`);
    }
    throw err;
  }
  const candidate = (mod.default ?? mod.connector) as Partial<Connector> | undefined;
  if (!candidate || typeof candidate !== "object" || (candidate.protocol !== "capture" && candidate.protocol !== "materialize")) {
    throw new Error(
      `connector module ${file} must export a connector (default export or "connector") with protocol "capture" or "materialize"`,
    );
  }
  return candidate as Connector;
}

/** The connector named `nameOrPath`, or exported by the module at that path. */
export async function loadConnector(nameOrPath: string): Promise<Connector> {
  if (isModulePath(nameOrPath)) return loadModule(nameOrPath);
  const load = loaders[nameOrPath];
  if (!load) {
    throw new Error(
      `unknown connector ${JSON.stringify(nameOrPath)}; known connectors: ${connectorNames().join(", ")} (or give a module path such as ./dist/connector.js)`,
    );
  }
  return load();
}
