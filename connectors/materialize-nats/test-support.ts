/**
 * Test helpers for materialize-nats: a namespace per test (every stream,
 * bucket and subject it makes starts with it), snapshots of what a run left
 * in the KV buckets and streams of the real server (NATS_URL, default
 * nats://127.0.0.1:4222), and their removal afterwards.
 */
import { randomBytes } from "node:crypto";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { NATS_URL } from "../../test/support/nats-server.js";

export { NATS_URL };

/** A namespace unique to one test: names of streams, buckets and subjects start with it. */
export function namespace(): string {
  return `trib_${randomBytes(4).toString("hex")}`;
}

export interface Admin {
  nc: NatsConnection;
  jsm: JetStreamManager;
}

export async function admin(): Promise<Admin> {
  const nc = await connect({ servers: NATS_URL });
  return { nc, jsm: await jetstreamManager(nc) };
}

const dec = new TextDecoder();

export interface StreamMessage {
  subject: string;
  key?: string;
  action?: string;
  payload: string;
}

/** Every message of a stream, in order: subject, Flow headers and payload. */
export async function streamMessages(jsm: JetStreamManager, stream: string): Promise<StreamMessage[]> {
  const info = await jsm.streams.info(stream);
  const out: StreamMessage[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (!m) continue;
    const msg: StreamMessage = { subject: m.subject, payload: dec.decode(m.data) };
    const key = m.header?.get("Flow-Key");
    const action = m.header?.get("Flow-Action");
    if (key) msg.key = key;
    if (action) msg.action = action;
    out.push(msg);
  }
  return out;
}

/** The live entries of a KV bucket (deleted keys left out), by key. */
export async function kvEntries(jsm: JetStreamManager, bucket: string): Promise<Record<string, string>> {
  const info = await jsm.streams.info(`KV_${bucket}`, { subjects_filter: ">" });
  const out: Record<string, string> = {};
  for (const subject of Object.keys(info.state.subjects ?? {}).sort()) {
    const m = await jsm.streams.getMessage(`KV_${bucket}`, { last_by_subj: subject });
    if (!m) continue;
    const op = m.header?.get("KV-Operation");
    if (op === "DEL" || op === "PURGE") continue;
    out[subject.slice(`$KV.${bucket}.`.length)] = dec.decode(m.data);
  }
  return out;
}

/** Deletes every stream (KV buckets included) whose name holds the namespace. */
export async function dropNamespace(jsm: JetStreamManager, ns: string): Promise<void> {
  const names: string[] = [];
  for await (const n of jsm.streams.names()) if (n.includes(ns)) names.push(n);
  for (const n of names) await jsm.streams.delete(n).catch(() => undefined);
}
