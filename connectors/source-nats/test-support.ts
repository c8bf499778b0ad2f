/**
 * Test helpers for source-nats: throwaway streams on the shared NATS server
 * (random names, deleted afterwards) and catalogs capturing them.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type StreamConfig } from "@nats-io/jetstream";
import { NATS_URL } from "../../test/support/nats-server.js";
import { documentSchema } from "./documents.js";

export { NATS_URL };

export interface TestNats {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Creates a stream named `<prefix>_<random>` on subjects `<name>.>`; deleted by close(). */
  stream(prefix: string, extra?: Partial<StreamConfig>): Promise<string>;
  /** Publishes `data` (strings are UTF-8) with optional headers; returns the stream sequence. */
  publish(subject: string, data: string | Uint8Array, hdrs?: Record<string, string | string[]>): Promise<number>;
  close(): Promise<void>;
}

export async function testNats(url = NATS_URL, auth: { user?: string; pass?: string } = {}): Promise<TestNats> {
  const nc = await connect({ servers: url, ...auth });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const made: string[] = [];
  return {
    nc,
    js,
    jsm,
    async stream(prefix, extra = {}) {
      const name = `${prefix}_${randomBytes(5).toString("hex")}`;
      await jsm.streams.add({ name, subjects: [`${name}.>`], ...extra });
      made.push(name);
      return name;
    },
    async publish(subject, data, hdrs) {
      let h;
      if (hdrs) {
        h = natsHeaders();
        for (const [k, v] of Object.entries(hdrs)) for (const x of Array.isArray(v) ? v : [v]) h.append(k, x);
      }
      const ack = await js.publish(subject, data, h ? { headers: h } : undefined);
      return ack.seq;
    },
    async close() {
      for (const s of made) await jsm.streams.delete(s).catch(() => undefined);
      await nc.close();
    },
  };
}

/** The endpoint config for the shared server. */
export function natsConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { servers: NATS_URL, ...extra };
}

/** Writes a catalog capturing `bindings` into collections acmeCo/<stream>; returns its path. */
export function captureCatalog(
  config: Record<string, unknown>,
  bindings: { resource: Record<string, unknown>; collection: string; key?: string[]; schema?: Record<string, unknown>; backfill?: number }[],
  extra: Record<string, unknown> = {},
): string {
  const dir = mkdtempSync(join(tmpdir(), "source-nats-"));
  const path = join(dir, "flow.json");
  const collections: Record<string, unknown> = {};
  for (const b of bindings) collections[b.collection] = { schema: b.schema ?? documentSchema(String(b.resource.stream), [], undefined), key: b.key ?? ["/_meta/seq"] };
  writeFileSync(
    path,
    JSON.stringify({
      collections,
      captures: {
        "acmeCo/source-nats": {
          endpoint: { connector: { image: "ghcr.io/estuary/source-nats:dev", config } },
          bindings: bindings.map((b) => ({ resource: b.resource, target: b.collection, ...(b.backfill ? { backfill: b.backfill } : {}) })),
        },
      },
      ...extra,
    }),
  );
  return path;
}
