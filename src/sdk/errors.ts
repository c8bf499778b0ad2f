/**
 * Errors that cross the connector boundary.
 *
 * A ConnectorError is meant for the person running the connector: its message
 * is shown as-is (no stack trace) as the last stderr line or the gRPC status.
 * Its `condition` says when the failure is the server's passing state rather
 * than a mistake in the request: "unavailable" (the server cannot be reached
 * or is starting, stopping, recovering) or "exhausted" (it is out of
 * connections, memory or disk). Transports report those as retryable.
 * A ProtocolError means a peer sent a message the protocol does not allow at
 * that point; its message names the message and what was expected instead.
 */
import { redactSecrets } from "../log.js";

export type ErrorCondition = "unavailable" | "exhausted";

export class ConnectorError extends Error {
  override name = "ConnectorError";
  readonly condition?: ErrorCondition;
  constructor(message: string, options?: { cause?: unknown; condition?: ErrorCondition }) {
    super(message, options);
    if (options?.condition) this.condition = options.condition;
  }
}

export class ProtocolError extends Error {
  override name = "ProtocolError";
}

/** Socket error codes that mean the peer is (for now) out of reach. */
const UNREACHABLE = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN", "EPIPE", "EAI_AGAIN"]);

/** "unavailable" for a socket error that says the peer is out of reach now. */
export function networkCondition(err: unknown): ErrorCondition | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && UNREACHABLE.has(code) ? "unavailable" : undefined;
}

/**
 * The message to show for an error: no stack for expected failures, and
 * credentials inside URL-like text redacted (see redactSecrets).
 */
export function describeError(err: unknown): string {
  let text: string;
  if (err instanceof ConnectorError || err instanceof ProtocolError) text = err.message;
  else if (err instanceof Error) text = err.message || err.name;
  else text = String(err);
  return redactSecrets(text);
}
