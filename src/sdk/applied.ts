import { ConnectorError } from "./errors.js";
import type { Applied } from "./types.js";

/**
 * Checks what a connector's apply returned: `{actionDescription, state?}` in
 * both protocols. A bare string (the capture form of earlier releases) is
 * refused with the shape to return instead.
 */
export function checkApplied(applied: unknown): Applied {
  if (typeof applied === "string") {
    throw new ConnectorError("apply returned a string; return {actionDescription: <that string>} instead");
  }
  const a = applied as Partial<Applied> | null | undefined;
  if (a === null || typeof a !== "object" || typeof a.actionDescription !== "string") {
    throw new ConnectorError("apply must return {actionDescription: string, state?: StateUpdate}");
  }
  return a as Applied;
}
