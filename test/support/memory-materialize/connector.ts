/**
 * memory-materialize: a tiny materialization for the harness's tests.
 *
 * Tables live in one JSON file (config `path`) together with, per key range,
 * a fence generation and the runtime checkpoint, committed atomically. It is
 * destination-authoritative: Open bumps the fence of every overlapping range
 * and returns the checkpoint stored for its range (or the explicit zero);
 * a commit from a superseded session fails with "fenced off". It survives
 * SIGKILL at any point.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { CheckpointSchema } from "../../../src/gen/consumer/protocol/protocol_pb.js";
import { ConnectorError } from "../../../src/sdk/errors.js";
import { ConstraintType, ZERO_CHECKPOINT, type Constraint, type MaterializeConnector, type StoreRequest } from "../../../src/sdk/types.js";
import { readStore, withLock, writeStore, type FenceRow } from "./store.js";

interface Config {
  path: string;
  /** Fields answered FIELD_FORBIDDEN, for field-selection tests. */
  forbid?: string[];
  /** Return no runtime checkpoint from Open (resume from the runtime's recovery log). */
  noCheckpoint?: boolean;
  /** Ask the runtime to send every Load. */
  disableLoadOptimization?: boolean;
  /** Skip the fence check at commit: a broken connector, for testing the harness's zombie check. */
  noFence?: boolean;
}

interface Resource {
  table: string;
  delta?: boolean;
}

const rangeId = (b: number, e: number) => `${b.toString(16).padStart(8, "0")}-${e.toString(16).padStart(8, "0")}`;

/** The common checkpoint of stored ranges that exactly tile [begin, end], if they all agree. */
function tiledCheckpoint(rows: FenceRow[], begin: number, end: number): string | undefined {
  const inside = rows.filter((f) => f.keyBegin >= begin && f.keyEnd <= end && f.checkpoint).sort((a, b) => a.keyBegin - b.keyBegin);
  let next = begin;
  for (const f of inside) {
    if (f.keyBegin !== next || f.checkpoint !== inside[0]!.checkpoint) return undefined;
    next = f.keyEnd + 1;
  }
  return inside.length > 0 && next === end + 1 ? inside[0]!.checkpoint : undefined;
}

const connector: MaterializeConnector<Config, Resource> = {
  protocol: "materialize",
  name: "memory-materialize",
  documentationUrl: "https://example.invalid/memory-materialize",
  configSchema: {
    type: "object",
    properties: {
      path: { type: "string" },
      forbid: { type: "array", items: { type: "string" } },
      noCheckpoint: { type: "boolean" },
      disableLoadOptimization: { type: "boolean" },
      noFence: { type: "boolean" },
    },
    required: ["path"],
  },
  resourceConfigSchema: {
    type: "object",
    properties: { table: { type: "string", "x-collection-name": true }, delta: { type: "boolean", "x-delta-updates": true } },
    required: ["table"],
  },

  async validate({ config, bindings }) {
    return bindings.map((b) => {
      const constraints: Record<string, Constraint> = {};
      for (const p of b.collection.projections) {
        let c: Constraint;
        const types = p.inference?.types ?? [];
        if (config.forbid?.includes(p.field)) c = { type: ConstraintType.FIELD_FORBIDDEN, reason: "forbidden by config" };
        else if (p.isPrimaryKey) c = { type: ConstraintType.LOCATION_REQUIRED, reason: "keys are required" };
        else if (p.ptr === "") c = b.resourceConfig.delta ? { type: ConstraintType.FIELD_OPTIONAL, reason: "delta updates need no document" } : { type: ConstraintType.LOCATION_REQUIRED, reason: "the document is stored" };
        else if (p.ptr.split("/").length === 2 && !types.includes("object") && !types.includes("array")) c = { type: ConstraintType.LOCATION_RECOMMENDED, reason: "a top-level scalar" };
        else c = { type: ConstraintType.FIELD_OPTIONAL, reason: "nested or structured" };
        constraints[p.field] = c;
      }
      return { constraints, resourcePath: [b.resourceConfig.table], deltaUpdates: b.resourceConfig.delta === true };
    });
  },

  async apply({ config, bindings }) {
    return withLock(config.path, () => {
      const s = readStore(config.path);
      const created: string[] = [];
      for (const b of bindings) {
        if (!s.tables[b.resourceConfig.table]) {
          s.tables[b.resourceConfig.table] = { rows: {}, appended: [] };
          created.push(b.resourceConfig.table);
        }
      }
      if (created.length) writeStore(config.path, s);
      return { actionDescription: created.map((t) => `created table ${t}`).join("\n") };
    });
  },

  async open({ config, bindings, range }) {
    const me = rangeId(range.keyBegin, range.keyEnd);
    const { generation, checkpoint } = await withLock(config.path, () => {
      const s = readStore(config.path);
      let mine: FenceRow | undefined = s.fences[me];
      // Fence every overlapping range, including our own.
      for (const f of Object.values(s.fences)) {
        if (f.keyEnd >= range.keyBegin && f.keyBegin <= range.keyEnd) f.generation++;
      }
      // Recover from the narrowest stored range that covers ours (a split inherits its parent's).
      const covering = Object.values(s.fences)
        .filter((f) => f.keyBegin <= range.keyBegin && f.keyEnd >= range.keyEnd && f.checkpoint)
        .sort((a, b) => a.keyEnd - a.keyBegin - (b.keyEnd - b.keyBegin));
      // A merge: sub-ranges that tile ours exactly and agree on their checkpoint.
      const recovered = covering[0]?.checkpoint ?? tiledCheckpoint(Object.values(s.fences), range.keyBegin, range.keyEnd);
      if (!mine) {
        mine = { keyBegin: range.keyBegin, keyEnd: range.keyEnd, generation: 1, checkpoint: recovered };
        s.fences[me] = mine;
      }
      writeStore(config.path, s);
      return { generation: mine.generation, checkpoint: recovered };
    });

    return {
      disableLoadOptimization: config.disableLoadOptimization,
      runtimeCheckpoint: config.noCheckpoint
        ? undefined
        : checkpoint
          ? fromBinary(CheckpointSchema, Buffer.from(checkpoint, "base64"))
          : ZERO_CHECKPOINT,
      transactor: {
        async load(it, loaded) {
          const keys: { binding: number; keyJson: string }[] = [];
          for await (const l of it) keys.push(l);
          await it.committed();
          const s = readStore(config.path);
          for (const k of keys) {
            const row = s.tables[bindings[k.binding]!.resourceConfig.table]?.rows[k.keyJson];
            if (row) await loaded(k.binding, row.doc);
          }
        },
        async store(it) {
          const pending: StoreRequest[] = [];
          for await (const st of it) pending.push(st);
          return async (req) => {
            await withLock(config.path, () => {
              const s = readStore(config.path);
              const f = s.fences[me];
              if (!config.noFence && (!f || f.generation !== generation)) {
                throw new ConnectorError(`fenced off: range ${me} was opened by a newer session (generation ${f?.generation}, ours ${generation})`);
              }
              for (const st of pending) {
                const b = bindings[st.binding]!;
                const t = (s.tables[b.resourceConfig.table] ??= { rows: {}, appended: [] });
                const row = { key: JSON.parse(st.keyJson), values: JSON.parse(st.valuesJson), doc: st.docJson ? JSON.parse(st.docJson) : undefined };
                if (b.deltaUpdates) t.appended.push(row);
                else if (st.delete) delete t.rows[st.keyJson];
                else {
                  if (st.exists !== st.keyJson in t.rows) {
                    throw new ConnectorError(`store of ${st.keyJson} in ${b.resourceConfig.table} says exists=${st.exists}, but the row ${st.keyJson in t.rows ? "exists" : "does not exist"}`);
                  }
                  t.rows[st.keyJson] = row;
                }
              }
              f!.checkpoint = Buffer.from(toBinary(CheckpointSchema, req.runtimeCheckpoint)).toString("base64");
              s.commits++;
              writeStore(config.path, s);
            });
          };
        },
        async acknowledge() {},
      },
    };
  },
};

export default connector;

