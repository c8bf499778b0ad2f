/**
 * Errors of the harness. A HarnessError is a mistake in what the user gave
 * (catalog, options, fixture). A ProtocolViolation is the connector breaking
 * a rule of the protocol: it names the message and the rule.
 */
export class HarnessError extends Error {
  override name = "HarnessError";
}

export class ProtocolViolation extends Error {
  override name = "ProtocolViolation";
  constructor(
    /** The offending message, e.g. "materialize.Response.Loaded". */
    readonly offending: string,
    /** A short, stable name of the rule, e.g. "loaded-key-not-requested". */
    readonly rule: string,
    detail: string,
  ) {
    super(`protocol violation by the connector: ${offending}: ${detail} [rule: ${rule}]`);
  }
}

/** The connector process failed (non-zero exit, crash, or unexpected EOF). */
export class ConnectorFailed extends Error {
  override name = "ConnectorFailed";
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly signal: string | null,
    readonly lastLog: string,
  ) {
    super(message);
  }
}
