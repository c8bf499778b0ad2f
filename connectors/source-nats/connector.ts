/**
 * source-nats: captures NATS JetStream streams, one binding per stream (or
 * per subject filter of a stream), on the resource capture layer. Each
 * binding's state is the stream sequence of its last committed message; a
 * session reads on from there with an ordered consumer, so a restart neither
 * repeats nor skips a message. Bounded sessions stop at each stream's last
 * sequence as of their start; others tail the streams.
 */
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { resourceCapture, type Resource } from "../../src/sdk/resources.js";
import type { CaptureBinding, Context } from "../../src/sdk/types.js";
import { connectNats, describeJetStreamError, type NatsConnection } from "../../src/nats/connect.js";
import {
  configSchema,
  resourceConfigSchema,
  resourcePathPointers,
  DEFAULT_IDLE_WAIT_MS,
  DEFAULT_MESSAGES_PER_CHECKPOINT,
  type Config,
  type ResourceConfig,
} from "./config.js";
import { DocumentBuilder, documentSchema, keyCheck, keyPointer, keyTypeFrom } from "./documents.js";
import { StreamReader } from "./reader.js";
import { checkBinding, listStreams, streamInfo } from "./streams.js";

export const NAME = "source-nats";

/** A binding's changes cursor, kept as its state entry. */
interface Position {
  /** Stream sequence of the last captured message; 0 before the first. */
  seq: number;
}

interface Session {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

async function openSession(config: Config): Promise<Session> {
  const nc = await connectNats(config, { name: NAME });
  try {
    const jsm = await jetstreamManager(nc);
    return { nc, js: jetstream(nc), jsm };
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw describeJetStreamError(err, "opening JetStream");
  }
}

const nameOf = (r: ResourceConfig) => (r.subject ? `${r.stream}/${r.subject}` : r.stream);

/** Reads one binding: its stream (and filter) from the committed sequence on. */
function streamResource(s: Session, config: Config, binding: CaptureBinding<ResourceConfig>, ctx: Context): Resource<Position> {
  const r = binding.resourceConfig;
  const bounded = config.bounded === true;
  const max = config.advanced?.messagesPerCheckpoint ?? DEFAULT_MESSAGES_PER_CHECKPOINT;
  const waitMs = config.advanced?.idleWaitMs ?? DEFAULT_IDLE_WAIT_MS;
  const check = keyCheck(binding.collection.key);
  const builder = new DocumentBuilder(r.stream);
  let reader: StreamReader | undefined;
  /** Bounded: the stream's last sequence when the session started reading it. */
  let end: number | undefined;
  ctx.signal.addEventListener("abort", () => void reader?.close(), { once: true });
  return {
    name: nameOf(r),
    resourceConfig: r as unknown as Record<string, unknown>,
    key: binding.collection.key,
    schema: {},
    initialCursor: () => ({ seq: 0 }),
    intervalMs: 0,
    async fetchChanges({ seq }, fctx) {
      if (bounded && end === undefined) end = (await streamInfo(s.jsm, r.stream)).state.last_seq;
      if (bounded && seq >= end!) return { docs: [], cursor: { seq }, caughtUp: true };
      if (!reader || reader.position !== seq) {
        await reader?.close();
        reader = undefined;
        reader = await StreamReader.open({ nc: s.nc, jsm: s.jsm, stream: r.stream, subject: r.subject, position: seq, pullSize: max, log: fctx.log });
      }
      let msgs;
      try {
        msgs = await reader.take(max, waitMs, fctx.signal);
      } catch (err) {
        // A retry opens a new reader from the committed position.
        await reader.close();
        reader = undefined;
        throw err;
      }
      const docs = [];
      let last = seq;
      let beyond = false;
      for (const m of msgs) {
        const mseq = m.seq;
        if (bounded && mseq > end!) {
          beyond = true;
          break;
        }
        const doc = builder.build(m);
        check?.(m, r.stream, doc, builder.kind);
        docs.push(doc);
        last = mseq;
      }
      const caughtUp = bounded ? beyond || last >= end! || reader.remaining === 0 : docs.length === 0;
      return { docs, cursor: { seq: last }, caughtUp };
    },
  };
}

export default resourceCapture<Config, ResourceConfig>({
  name: NAME,
  documentationUrl: "https://github.com/tributary-dev/tributary/tree/main/connectors/source-nats",
  configSchema,
  resourceConfigSchema,
  resourcePathPointers,
  async resources(config, ctx, bindings) {
    const s = await openSession(config);
    if (!bindings) {
      // Discover: one binding per stream.
      try {
        const streams = await listStreams(s.jsm);
        const choice = config.documentKey;
        const out = [];
        for (const si of streams) {
          // A payload key is typed from the stream's last message.
          const sample = choice?.type === "pointer" && si.state.last_seq > 0 ? await s.jsm.streams.getMessage(si.config.name, { seq: si.state.last_seq }).catch(() => null) : null;
          out.push({
            name: si.config.name,
            resourceConfig: { stream: si.config.name },
            key: [keyPointer(choice)],
            isFallbackKey: (choice?.type ?? "sequence") === "sequence",
            schema: documentSchema(si.config.name, si.config.subjects ?? [], choice, choice?.type === "pointer" ? keyTypeFrom(sample?.data, choice.pointer) : undefined),
          });
        }
        return out;
      } finally {
        await s.nc.close().catch(() => undefined);
      }
    }
    ctx.signal.addEventListener("abort", () => void s.nc.close().catch(() => undefined), { once: true });
    return bindings.map((b) => streamResource(s, config, b, ctx));
  },
  async validate(req) {
    const s = await openSession(req.config);
    try {
      for (const [i, b] of req.bindings.entries()) await checkBinding(s.js, s.jsm, b.resourceConfig, i);
    } finally {
      await s.nc.close().catch(() => undefined);
    }
  },
  bounded: (config) => config.bounded === true,
  retry: { attempts: 5, initialMs: 500, maxMs: 10_000 },
});
