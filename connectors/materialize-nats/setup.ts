/**
 * What the bindings and the connector need on the server: the connector's
 * staging stream and progress bucket, a KV bucket per standard binding, a
 * stream capturing each delta binding's subject. Also the duplicate windows
 * that bound exactly-once delivery, for Validate's warnings.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { JetStreamClient } from "@nats-io/jetstream";
import { describeJetStreamError } from "../../src/nats/connect.js";
import type { Target } from "./config.js";
import type { LoadSource } from "./load.js";
import { progressBucket, stagingStream, stagingSubjects } from "./stage.js";

/** The duplicate window the KV client gives buckets it creates (without a TTL). */
export const KV_DUPLICATE_WINDOW_NS = 120e9;

export function kvStream(bucket: string): string {
  return `KV_${bucket}`;
}

async function streamExists(jsm: JetStreamManager, name: string): Promise<boolean> {
  try {
    await jsm.streams.info(name);
    return true;
  } catch (err) {
    if ((err as { name?: string }).name === "StreamNotFoundError" || /stream not found/i.test(String((err as Error).message))) return false;
    throw err;
  }
}

/** Creates the staging stream and progress bucket when missing; returns the bucket. */
export async function ensureInternal(js: JetStreamClient, jsm: JetStreamManager, prefix: string): Promise<KV> {
  const stream = stagingStream(prefix);
  try {
    if (!(await streamExists(jsm, stream))) {
      await jsm.streams.add({ name: stream, subjects: [stagingSubjects(prefix)] });
    }
  } catch (err) {
    if (!/already in use/i.test(String((err as Error).message))) throw describeJetStreamError(err, `creating the staging stream ${stream}`);
  }
  try {
    return await new Kvm(js).create(progressBucket(prefix), { history: 1 });
  } catch (err) {
    throw describeJetStreamError(err, `creating the progress KV bucket ${progressBucket(prefix)}`);
  }
}

/** Opens (and when `create`, creates) the KV bucket of a standard binding. */
export async function openBucket(js: JetStreamClient, jsm: JetStreamManager, bucket: string, create: boolean): Promise<{ kv: KV; created: boolean }> {
  try {
    const exists = await streamExists(jsm, kvStream(bucket));
    if (!exists && !create) throw new Error(`KV bucket ${bucket} does not exist (Apply creates it)`);
    const kvm = new Kvm(js);
    return { kv: exists ? await kvm.open(bucket) : await kvm.create(bucket, { history: 1 }), created: !exists };
  } catch (err) {
    throw describeJetStreamError(err, `opening KV bucket ${bucket}`);
  }
}

/**
 * Opens (creating when missing) a standard binding's bucket for Loads: when
 * its stream serves direct gets and is a plain bucket (no mirror, its own
 * subjects), Loads are direct gets of `$KV.<bucket>.<key>`; else the KV
 * client's get, which knows the other layouts.
 */
export async function loadSource(js: JetStreamClient, jsm: JetStreamManager, bucket: string): Promise<LoadSource> {
  const { kv } = await openBucket(js, jsm, bucket, true);
  const info = await jsm.streams.info(kvStream(bucket)).catch((err) => {
    throw describeJetStreamError(err, `reading KV bucket ${bucket}'s stream`);
  });
  const c = info.config;
  const plain = c.allow_direct === true && !c.mirror && c.subjects?.length === 1 && c.subjects[0] === `$KV.${bucket}.>`;
  return { kv, direct: plain ? `$JS.API.DIRECT.GET.${kvStream(bucket)}.$KV.${bucket}.` : undefined };
}

/** The stream capturing a subject, or undefined when none does. */
export async function streamFor(jsm: JetStreamManager, subject: string): Promise<string | undefined> {
  try {
    return await jsm.streams.find(subject);
  } catch (err) {
    if (/no stream matches subject/i.test(String((err as Error).message))) return undefined;
    throw describeJetStreamError(err, `looking up the stream of subject ${subject}`);
  }
}

/** Ensures a delta binding's subject is captured by a stream; says what it created. */
export async function ensureSubjectStream(jsm: JetStreamManager, t: Extract<Target, { kind: "subject" }>, duplicateWindowNs: number): Promise<string | undefined> {
  if (await streamFor(jsm, t.subject)) return undefined;
  try {
    await jsm.streams.add({ name: t.stream, subjects: [t.subject], duplicate_window: duplicateWindowNs });
  } catch (err) {
    throw describeJetStreamError(err, `creating stream ${t.stream} for subject ${t.subject}`);
  }
  return `created stream ${t.stream} capturing subject ${t.subject}`;
}

/** The duplicate window (ns) that will apply to a target's publishes, and the stream it belongs to. */
export async function duplicateWindow(jsm: JetStreamManager, t: Target, defaultNs: number): Promise<{ stream: string; ns: number; exists: boolean }> {
  const stream = t.kind === "kv" ? kvStream(t.bucket) : ((await streamFor(jsm, t.subject)) ?? t.stream);
  try {
    const info = await jsm.streams.info(stream);
    return { stream, ns: info.config.duplicate_window ?? 0, exists: true };
  } catch {
    return { stream, ns: t.kind === "kv" ? KV_DUPLICATE_WINDOW_NS : defaultNs, exists: false };
  }
}

export function seconds(ns: number): string {
  return `${Math.round(ns / 1e9)}s`;
}
