/**
 * One NATS connection with its JetStream handles, opened with the shared
 * connect code (src/nats/connect.ts) and closed with the session.
 */
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connectNats, describeJetStreamError, type NatsConnection } from "../../src/nats/connect.js";
import type { Endpoint } from "./config.js";

export interface Nats {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  maxPayload: number;
  close(): Promise<void>;
}

export async function openNats(ep: Endpoint, name: string): Promise<Nats> {
  const nc = await connectNats(ep.connection, { name });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 30_000 }).catch((err) => {
      throw describeJetStreamError(err, "reaching JetStream");
    });
    const js = jetstream(nc, { timeout: 30_000 });
    return { nc, js, jsm, maxPayload: nc.info?.max_payload ?? 1 << 20, close: () => nc.close() };
  } catch (err) {
    await nc.close();
    throw err;
  }
}

export async function withNats<T>(ep: Endpoint, name: string, fn: (n: Nats) => Promise<T>): Promise<T> {
  const n = await openNats(ep, name);
  try {
    return await fn(n);
  } finally {
    await n.close();
  }
}
