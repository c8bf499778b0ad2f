/**
 * What one batch's request carries: the body (documents' JSON verbatim, as
 * an array or as lines), its idempotency key and its HMAC signature.
 */
import { createHash, createHmac } from "node:crypto";
import type { Epoch, SinkBatch } from "../../src/sdk/sink.js";
import type { BodyFormat } from "./config.js";

export const SIGNATURE_HEADER = "X-Tributary-Signature";

export function batchBody(batch: SinkBatch, format: BodyFormat): Buffer {
  const docs = batch.stores.map((s) => s.docJson);
  return Buffer.from(format === "json_lines" ? `${docs.join("\n")}\n` : `[${docs.join(",")}]`, "utf8");
}

/**
 * `<epoch id>-<binding>-<batch index>-<16 hex digits of the body's SHA-256>`.
 * The epoch id follows the checkpoint the epoch started from, so a batch sent
 * again after a crash carries the same key. The body digest keeps a receiver
 * that de-duplicates from dropping a batch whose replay holds other
 * documents (a runtime may cut the replayed transaction differently): then
 * the key differs, and the receiver gets duplicates rather than losing data.
 */
export function idempotencyKey(epoch: Epoch, batch: SinkBatch, body: Buffer): string {
  const digest = createHash("sha256").update(body).digest("hex").slice(0, 16);
  return `${epoch.id}-${batch.binding}-${batch.index}-${digest}`;
}

/** `sha256=<hex HMAC-SHA256 of the body>`. */
export function signature(secret: string, body: Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}
