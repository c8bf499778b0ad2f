/**
 * The connectors this project ships, by the name used in `tributary run
 * <name>` and in image names (ghcr.io/<org>/<name>:<tag>). Each is loaded on
 * demand so that one connector's dependencies never slow another's start-up.
 */
import type { Connector } from "../src/sdk/types.js";

const loaders: Record<string, () => Promise<Connector>> = {
  "source-hello-world": async () => (await import("./source-hello-world/connector.js")).default,
  "source-postgres": async () => (await import("./source-postgres/connector.js")).default,
  "source-mysql": async () => (await import("./source-mysql/connector.js")).default,
  "materialize-postgres": async () => (await import("./materialize-postgres/connector.js")).default,
  "materialize-mysql": async () => (await import("./materialize-mysql/connector.js")).default,
  "materialize-redis": async () => (await import("./materialize-redis/connector.js")).default,
};

export function connectorNames(): string[] {
  return Object.keys(loaders).sort();
}

export async function loadConnector(name: string): Promise<Connector> {
  const load = loaders[name];
  if (!load) {
    throw new Error(`unknown connector ${JSON.stringify(name)}; known connectors: ${connectorNames().join(", ")}`);
  }
  return load();
}
