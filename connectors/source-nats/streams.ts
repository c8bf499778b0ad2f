/**
 * What source-nats asks JetStream's API about streams: the list discovery
 * offers, and the checks Validate makes of each binding (the stream exists,
 * its subject filter can match, and the user may create the ordered consumer
 * a session reads with).
 */
import type { JetStreamClient, JetStreamManager, StreamInfo } from "@nats-io/jetstream";
import { ConnectorError } from "../../src/sdk/errors.js";
import { describeJetStreamError } from "../../src/nats/connect.js";
import type { ResourceConfig } from "./config.js";

/** Every stream the account holds, by name. */
export async function listStreams(jsm: JetStreamManager): Promise<StreamInfo[]> {
  const out: StreamInfo[] = [];
  try {
    for await (const si of jsm.streams.list()) out.push(si);
  } catch (err) {
    throw describeJetStreamError(err, "listing streams");
  }
  return out.sort((a, b) => a.config.name.localeCompare(b.config.name));
}

/** Whether two subjects (wildcards allowed) can match a common subject. */
export function subjectsOverlap(a: string, b: string): boolean {
  const x = a.split(".");
  const y = b.split(".");
  for (let i = 0; ; i++) {
    if (x[i] === ">" || y[i] === ">") return i < x.length && i < y.length;
    if (i >= x.length || i >= y.length) return x.length === y.length;
    if (x[i] !== "*" && y[i] !== "*" && x[i] !== y[i]) return false;
  }
}

/** Stream info, with a missing stream or a refused request named for binding `index`. */
export async function streamInfo(jsm: JetStreamManager, stream: string, index?: number): Promise<StreamInfo> {
  const who = index === undefined ? `stream ${stream}` : `binding ${index} (stream ${stream})`;
  try {
    return await jsm.streams.info(stream);
  } catch (err) {
    const e = describeJetStreamError(err, `reading the info of ${who}`);
    if (/no such stream/.test(e.message)) throw new ConnectorError(`${who}: no stream of that name exists on the NATS server`);
    throw e;
  }
}

/** Validate's checks of one binding. */
export async function checkBinding(js: JetStreamClient, jsm: JetStreamManager, r: ResourceConfig, index: number): Promise<void> {
  const info = await streamInfo(jsm, r.stream, index);
  const subjects = info.config.subjects ?? [];
  if (r.subject && subjects.length > 0 && !subjects.some((s) => subjectsOverlap(s, r.subject!))) {
    throw new ConnectorError(`binding ${index} (stream ${r.stream}): subject filter ${r.subject} matches none of the stream's subjects (${subjects.join(", ")})`);
  }
  let consumer: { info(): Promise<unknown>; delete?(): Promise<unknown> } | undefined;
  try {
    consumer = await js.consumers.get(r.stream, { deliver_policy: "all" as never, ...(r.subject ? { filter_subjects: r.subject } : {}) });
    await consumer.info();
  } catch (err) {
    throw describeJetStreamError(err, `binding ${index} (stream ${r.stream}): creating an ordered consumer to read it`);
  } finally {
    await consumer?.delete?.().catch(() => undefined);
  }
}
