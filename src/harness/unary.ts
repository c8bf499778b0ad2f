/**
 * Unary RPCs (Spec, Validate, Apply) the way connector-init carries them:
 * spawn the connector, write the one request, close stdin, and require
 * exactly one response of the expected kind and a clean exit.
 */
import type { Logger } from "../log.js";
import type { ConnectorEndpoint } from "./catalog.js";
import { openConnector } from "./connector-session.js";
import { ProtocolViolation } from "./errors.js";
import type { ProtocolWire } from "./wire.js";

/** The name of the one variant field set on a Request/Response, or "" if none. */
export function variantOf(msg: object): string {
  for (const [k, v] of Object.entries(msg)) {
    if (k === "$typeName" || k === "$unknown" || k === "internal") continue;
    if (v !== undefined) return k;
  }
  return "";
}

/** The variant's message name as the protocol spells it, e.g. "StartedCommit"; "(empty)" when none is set. */
export function variantName(msg: object): string {
  const v = variantOf(msg);
  return v ? v.charAt(0).toUpperCase() + v.slice(1) : "(empty)";
}

export async function unary<Req extends object, Res extends object>(
  endpoint: ConnectorEndpoint,
  wire: ProtocolWire<Req, Res>,
  req: Req,
  expect: string,
  opts: { log: Logger; protocol: "capture" | "materialize"; logLevel?: string },
): Promise<Res> {
  const what = `${opts.protocol}.Request.${variantName(req)}`;
  const proc = openConnector(endpoint, wire, opts.protocol, { log: opts.log, label: `${opts.protocol} ${variantOf(req)}`, logLevel: opts.logLevel });
  try {
    await proc.send(req);
    proc.closeInput();
    const responses: Res[] = [];
    for (let r = await proc.next(); r !== undefined; r = await proc.next()) responses.push(r);
    if (responses.length !== 1) {
      throw new ProtocolViolation(`${opts.protocol}.Response`, "unary-exactly-one-response", `${what} must be answered by exactly one response, got ${responses.length}`);
    }
    const res = responses[0]!;
    if (variantOf(res) !== expect) {
      const got = variantName(res);
      throw new ProtocolViolation(`${opts.protocol}.Response.${got}`, "unary-response-kind", `${what} must be answered by ${variantName({ [expect]: true })}, got ${got}`);
    }
    return res;
  } finally {
    await proc.kill();
  }
}
