/**
 * Errors that cross the connector boundary.
 *
 * A ConnectorError is meant for the person running the connector: its message
 * is shown as-is (no stack trace) as the last stderr line or the gRPC status.
 * A ProtocolError means a peer sent a message the protocol does not allow at
 * that point; its message names the message and what was expected instead.
 */
export class ConnectorError extends Error {
  override name = "ConnectorError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class ProtocolError extends Error {
  override name = "ProtocolError";
}

/** The message to show for an error: no stack for expected failures. */
export function describeError(err: unknown): string {
  if (err instanceof ConnectorError || err instanceof ProtocolError) return err.message;
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
