/**
 * materialize-webhook: POSTs batches of documents to an HTTP endpoint, built
 * only on the epoch sink layer (src/sdk/sink.ts).
 *
 * A receiver cannot take part in Flow's commit, so delivery is at-least-once:
 * every batch of a transaction is POSTed (and answered 2xx) before the
 * transaction commits, and a transaction the runtime runs again after a
 * failure is POSTed again. Each request carries an idempotency key derived
 * from the epoch (that is, from the checkpoint the transaction started from),
 * the binding and the batch's index, so a receiver that drops repeated keys
 * sees every batch exactly once.
 */
import { epochSink } from "../../src/sdk/sink-connector.js";
import { defaultConstraints } from "../../src/sdk/sink-validate.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { batchBody, idempotencyKey, signature, SIGNATURE_HEADER } from "./batch.js";
import { bindingResourcePath, bindingUrl, configSchema, DELIVERY_DESCRIPTION, resolveEndpoint, resourceConfigSchema, type EndpointConfig, type ResourceConfig } from "./config.js";
import { postWithRetry, shownUrl, type PostCounters } from "./post.js";

const CONTENT_TYPE = { json_array: "application/json", json_lines: "application/x-ndjson" } as const;

export default epochSink<EndpointConfig, ResourceConfig>({
  name: "materialize-webhook",
  documentationUrl: "https://github.com/tributary-dev/tributary/tree/main/connectors/materialize-webhook",
  configSchema,
  resourceConfigSchema,
  capabilities: () => ({ delivery: "at-least-once", operations: ["delta"] }),
  resourcePath: (r, config) => bindingResourcePath(resolveEndpoint(config), r),

  constraints(binding) {
    const c = defaultConstraints(binding, { delivery: "at-least-once", operations: ["delta"] });
    for (const v of Object.values(c)) {
      if (v.reason.startsWith("The root document")) v.reason = `The root document is what is POSTed. ${DELIVERY_DESCRIPTION}`;
    }
    return c;
  },

  async open({ config, bindings, materialization }, ctx) {
    const ep = resolveEndpoint(config);
    const urls = bindings.map((b) => bindingUrl(ep, b.resourceConfig));
    for (const [i, b] of bindings.entries()) {
      if (!b.document) throw new ConnectorError(`binding ${i} selects no document field; the webhook POSTs documents`);
    }
    const counters: PostCounters = { requests: 0, retries: 0, bytes: 0 };
    const fixed: Record<string, string> = { "content-type": CONTENT_TYPE[ep.format], "x-tributary-materialization": materialization };
    for (const h of ep.headers) fixed[h.name] = h.value;
    return {
      batchSize: ep.batchSize,
      async writeBatch(batch, epoch) {
        const body = batchBody(batch, ep.format);
        const headers: Record<string, string> = {
          ...fixed,
          [ep.idempotencyHeader]: idempotencyKey(epoch, batch, body),
          "x-tributary-collection": bindings[batch.binding]!.collection.name,
        };
        if (ep.hmacSecret) headers[SIGNATURE_HEADER] = signature(ep.hmacSecret, body);
        await postWithRetry(ep, urls[batch.binding]!, body, headers, counters, ctx.log, ctx.signal);
      },
      metrics: () => ({ ...counters }),
    };
  },

  async healthCheck(config, ctx) {
    // Reachable is healthy: any HTTP answer (even 404 or 405 to a HEAD) means
    // the receiver is up; a network failure or a 5xx does not.
    const ep = resolveEndpoint(config);
    let status: number;
    try {
      const res = await fetch(ep.url, { method: "HEAD", redirect: "manual", signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(ep.timeoutMs)]) });
      status = res.status;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      throw new ConnectorError(`${shownUrl(ep.url)} is unreachable: ${e.cause?.code ?? e.message}`, { condition: "unavailable" });
    }
    if (status >= 500) throw new ConnectorError(`${shownUrl(ep.url)} answered ${status}`, { condition: "unavailable" });
  },
});
