import { resolve } from "node:path";
import { repoRoot } from "../harness/catalog.js";

/**
 * The command that runs the connector module at `modulePath` (relative to
 * the working directory) with this installation of tributary: usable as a
 * catalog's `local.command`.
 */
export function connectorCommand(modulePath: string): string[] {
  return [process.execPath, resolve(repoRoot(), "bin", "tributary"), "run", resolve(modulePath)];
}
