import { connectorNames, loadConnector } from "../../connectors/registry.js";

/** `tributary list`: one line per connector, with the protocol it speaks. */
export async function list(): Promise<number> {
  for (const name of connectorNames()) {
    const c = await loadConnector(name);
    process.stdout.write(`${name}\t${c.protocol}\n`);
  }
  return 0;
}
