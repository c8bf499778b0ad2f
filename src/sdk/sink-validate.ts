/**
 * Validate for sink-layer connectors: each binding's delta mode follows from
 * the sink's capabilities (no "upsert" → delta updates only), and the default
 * constraints ask for the key and the root document, which is what the layer
 * hands a sink in every Store.
 */
import { AT_LEAST_ONCE_DESCRIPTION } from "./at-least-once.js";
import { ConnectorError } from "./errors.js";
import type { SinkCapabilities, SinkConnector, SinkValidateBinding } from "./sink.js";
import { ConstraintType, type Constraint, type MaterializeValidate, type ValidatedBinding } from "./types.js";

/** Checks that capabilities are coherent; throws naming the connector's mistake. */
export function checkCapabilities(name: string, caps: SinkCapabilities): void {
  const delivery = ["exactly-once-transactional", "exactly-once-idempotent", "at-least-once"];
  if (!delivery.includes(caps.delivery)) {
    throw new ConnectorError(`connector ${name}: capabilities().delivery ${JSON.stringify(caps.delivery)} is not one of ${delivery.join(", ")}`);
  }
  if (!caps.operations.includes("upsert") && !caps.operations.includes("delta")) {
    throw new ConnectorError(`connector ${name}: capabilities().operations must include "upsert" or "delta"`);
  }
}

/** Whether binding `index` uses delta updates, or a ConnectorError when it asks for what the sink cannot do. */
export function bindingDelta(caps: SinkCapabilities, wantsDelta: boolean, index: number): boolean {
  const upsert = caps.operations.includes("upsert");
  const delta = caps.operations.includes("delta");
  if (!upsert) return true;
  if (wantsDelta && !delta) throw new ConnectorError(`binding ${index} asks for delta updates, which this connector does not support`);
  return wantsDelta;
}

/** Keys and the (first) root document required, every other field optional. */
export function defaultConstraints(binding: SinkValidateBinding, caps: SinkCapabilities): Record<string, Constraint> {
  const out: Record<string, Constraint> = {};
  const keys = new Set(binding.collection.key);
  let root = false;
  const caveat = caps.delivery === "at-least-once" ? ` (${AT_LEAST_ONCE_DESCRIPTION})` : "";
  for (const p of binding.collection.projections) {
    if (p.isPrimaryKey || keys.has(p.ptr)) {
      out[p.field] = { type: ConstraintType.LOCATION_REQUIRED, reason: "All Locations that are part of the collection key are required" };
    } else if (p.ptr === "") {
      out[p.field] = root
        ? { type: ConstraintType.FIELD_FORBIDDEN, reason: "Only one root document projection is materialized" }
        : { type: ConstraintType.LOCATION_REQUIRED, reason: `The root document is what the sink writes${caveat}` };
      root = true;
    } else {
      out[p.field] = { type: ConstraintType.FIELD_OPTIONAL, reason: "This field may be materialized" };
    }
  }
  return out;
}

export async function validateSink<C, R>(def: SinkConnector<C, R>, req: MaterializeValidate<C, R>): Promise<ValidatedBinding[]> {
  const caps = def.capabilities(req.config);
  checkCapabilities(def.name, caps);
  const out: ValidatedBinding[] = [];
  for (const [i, b] of req.bindings.entries()) {
    const deltaUpdates = bindingDelta(caps, def.deltaUpdates?.(b.resourceConfig, req.config) ?? false, i);
    const binding: SinkValidateBinding<R> = { ...b, deltaUpdates };
    const constraints = def.constraints ? await def.constraints(binding, req.config) : defaultConstraints(binding, caps);
    out.push({ constraints, resourcePath: def.resourcePath(b.resourceConfig, req.config), deltaUpdates });
  }
  return out;
}
