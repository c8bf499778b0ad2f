/**
 * Staging and applying against the real server: an applied transaction
 * applied again publishes nothing (progress marker), an apply interrupted
 * after some chunks resumes and JetStream drops the replayed chunk's
 * messages (Nats-Msg-Id within the duplicate window), and a stage that is
 * gone reads as missing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { applyStaged, readProgress } from "./apply.js";
import { ensureInternal, openBucket } from "./setup.js";
import { InternalNames, removeStaged, StageWriter, type StagedTxn } from "./stage.js";
import { RecordKind, type ApplyRecord } from "./records.js";
import { headers } from "@nats-io/transport-node";
import { AckWindow, RequestPipe } from "./pipe.js";
import { admin, dropNamespace, kvEntries, namespace, streamMessages, type Admin } from "./test-support.js";

let a: Admin;
let js: JetStreamClient;
let progress: KV;
let pipe: RequestPipe;
const ns = namespace();
const names = new InternalNames(ns, "acme/mat", "00000000-ffffffff");

beforeAll(async () => {
  a = await admin();
  js = jetstream(a.nc);
  pipe = new RequestPipe(a.nc);
  progress = await ensureInternal(js, a.jsm, ns);
  await openBucket(js, a.jsm, `${ns}_kv`, true);
  await a.jsm.streams.add({ name: `${ns}_delta`, subjects: [`${ns}.delta`] });
});
afterAll(async () => {
  pipe?.close();
  await dropNamespace(a.jsm, ns);
  await a?.nc.close();
});

/** Stages `n` delta messages and `n` KV puts in chunks of about 1 KiB. */
async function stage(n: number): Promise<StagedTxn> {
  return (await stageKept(n)).t;
}

/** stage(), also returning the chunks the writer kept in memory. */
async function stageKept(n: number): Promise<{ t: StagedTxn; kept: Buffer[] | undefined }> {
  const w = new StageWriter(pipe, names.stream, names.newStage(), 1024, 1 << 20);
  for (let i = 0; i < n; i++) {
    const payload = JSON.stringify({ id: i, pad: "x".repeat(200) });
    const records: ApplyRecord[] = [
      { kind: RecordKind.upsert, binding: 1, subject: `${ns}.delta`, key: `[${i}]`, payload },
      { kind: RecordKind.put, binding: 0, subject: `$KV.${ns}_kv.${i}`, key: "", payload },
    ];
    for (const r of records) await w.add(r);
  }
  const done = await w.finish();
  return { t: { stream: w.stream, stage: w.stage, ...done, progress: { bucket: names.progressBucket, key: names.progressKey } }, kept: w.keptChunks() };
}

describe("applyStaged", { timeout: 60_000 }, () => {
  it("applies once however often it runs", async () => {
    const t = await stage(20);
    expect(t.chunks).toBeGreaterThan(3);
    expect(t.records).toBe(40);
    expect(await applyStaged(pipe, a.jsm, progress, t, "epoch-a", 64)).toBe("applied");
    expect(await readProgress(progress, t.progress.key)).toEqual({ id: "epoch-a", chunks: t.chunks });
    const msgs = await streamMessages(a.jsm, `${ns}_delta`);
    expect(msgs.map((m) => m.key)).toEqual(Array.from({ length: 20 }, (_, i) => `[${i}]`));
    expect(msgs.every((m) => m.action === "upsert")).toBe(true);
    expect(Object.keys(await kvEntries(a.jsm, `${ns}_kv`))).toHaveLength(20);

    // Complete by its marker: nothing is read or published again.
    expect(await applyStaged(pipe, a.jsm, progress, t, "epoch-a", 64)).toBe("already-applied");
    // A crash after two chunks: the rest is published again, and the
    // duplicate window drops every message that had landed.
    await progress.put(t.progress.key, JSON.stringify({ id: "epoch-a", chunks: 2 }));
    expect(await applyStaged(pipe, a.jsm, progress, t, "epoch-a", 64)).toBe("applied");
    // A crash before any marker of this epoch: all again, all dropped.
    await progress.put(t.progress.key, JSON.stringify({ id: "an-older-epoch", chunks: 9 }));
    expect(await applyStaged(pipe, a.jsm, progress, t, "epoch-a", 64)).toBe("applied");
    expect(await streamMessages(a.jsm, `${ns}_delta`)).toEqual(msgs);
    const info = await a.jsm.streams.info(`KV_${ns}_kv`);
    expect(info.state.messages).toBe(20);
  });

  it("a second epoch's messages are new, and a purged stage reads as missing", async () => {
    const t = await stage(3);
    expect(await applyStaged(pipe, a.jsm, progress, t, "epoch-b", 8)).toBe("applied");
    expect((await streamMessages(a.jsm, `${ns}_delta`)).length).toBe(23);
    await removeStaged(a.jsm, t);
    await progress.put(t.progress.key, JSON.stringify({ id: "epoch-a", chunks: 1 }));
    expect(await applyStaged(pipe, a.jsm, progress, t, "epoch-b", 8)).toBe("missing");
  });

  it("applies the chunks kept in memory as it applies them from the stream", async () => {
    const { t, kept } = await stageKept(5);
    expect(kept).toHaveLength(t.chunks);
    const before = (await streamMessages(a.jsm, `${ns}_delta`)).length;
    expect(await applyStaged(pipe, a.jsm, progress, t, "epoch-c", 8, kept)).toBe("applied");
    const after = await streamMessages(a.jsm, `${ns}_delta`);
    expect(after.slice(before).map((m) => m.key)).toEqual(Array.from({ length: 5 }, (_, i) => `[${i}]`));
    // Read back from the stream instead, after a crash before any marker: all dropped as duplicates.
    await progress.put(t.progress.key, JSON.stringify({ id: "an-older-epoch", chunks: 1 }));
    expect(await applyStaged(pipe, a.jsm, progress, t, "epoch-c", 8)).toBe("applied");
    expect(await streamMessages(a.jsm, `${ns}_delta`)).toEqual(after);
  });
});

describe("AckWindow", { timeout: 60_000 }, () => {
  it("fails with the server's reasons: no stream for the subject, a JetStream error", async () => {
    const w = new AckWindow(pipe, 4);
    await w.publish(`${ns}.nowhere`, new Uint8Array(1), undefined);
    await expect(w.finish()).rejects.toThrow(/no responders/i);
    const h = headers();
    h.set("Nats-Expected-Stream", "not-this-one");
    const v = new AckWindow(pipe, 4);
    await v.publish(`${ns}.delta`, new Uint8Array(1), h);
    await expect(v.finish()).rejects.toThrow(/expected stream does not match/i);
  });
});
