#!/usr/bin/env node
// A hand-rolled connector for the harness's tests: it speaks the wire
// directly (no SDK, so it can break rules the SDK enforces) and follows the
// scenario named by RAW_SCENARIO. Protocol: RAW_PROTOCOL=capture|materialize.
// JSON codec throughout, except a few capture messages in protobuf when
// FLOW_RUNTIME_CODEC is not "json".
const scenario = process.env.RAW_SCENARIO ?? "";
const protocol = process.env.RAW_PROTOCOL ?? "capture";
const json = process.env.FLOW_RUNTIME_CODEC === "json";

// ---- protobuf, just enough for the capture scenarios.
function varint(n) {
  const out = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}
const field = (no, bytes) => Buffer.concat([varint((no << 3) | 2), varint(bytes.length), bytes]);
const num = (no, n) => Buffer.concat([varint(no << 3), varint(n)]);
const str = (s) => Buffer.from(s, "utf8");
const PROTO = {
  spec: (protocolNo) => field(1, Buffer.concat([protocolNo ? num(1, protocolNo) : Buffer.alloc(0), field(2, str("{}")), field(3, str("{}")), field(4, str("x"))])),
  validated: () => field(3, field(1, field(1, str("raw")))),
  applied: () => field(4, Buffer.alloc(0)),
  opened: () => field(5, Buffer.alloc(0)),
  captured: (binding, docText) => field(6, Buffer.concat([binding ? num(1, binding) : Buffer.alloc(0), field(2, str(docText))])),
  checkpoint: (updated) => field(7, field(1, Buffer.concat([field(1, str(updated)), num(2, 1)]))),
};

function write(msgs) {
  const parts = [];
  for (const m of msgs) {
    if (json) parts.push(Buffer.from(JSON.stringify(m) + "\n"));
    else {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(m.length);
      parts.push(len, m);
    }
  }
  process.stdout.write(Buffer.concat(parts));
}

// ---- requests: JSON lines, or length-prefixed protobuf (variant = first tag's field number).
const CAPTURE_VARIANTS = { 1: "spec", 2: "discover", 3: "validate", 4: "apply", 5: "open", 6: "acknowledge" };
let buf = Buffer.alloc(0);
const pending = [];
let waiters = [];
let ended = false;
process.stdin.on("data", (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  for (;;) {
    if (json) {
      const nl = buf.indexOf(0x0a);
      if (nl < 0) break;
      pending.push(JSON.parse(buf.subarray(0, nl).toString()));
      buf = buf.subarray(nl + 1);
    } else {
      if (buf.length < 4) break;
      const n = buf.readUInt32LE(0);
      if (buf.length < 4 + n) break;
      const body = buf.subarray(4, 4 + n);
      pending.push({ [CAPTURE_VARIANTS[body[0] >> 3] ?? "unknown"]: {} });
      buf = buf.subarray(4 + n);
    }
  }
  const w = waiters;
  waiters = [];
  w.forEach((f) => f());
});
process.stdin.on("end", () => {
  ended = true;
  const w = waiters;
  waiters = [];
  w.forEach((f) => f());
});
async function next() {
  for (;;) {
    if (pending.length) return pending.shift();
    if (ended) return undefined;
    await new Promise((r) => waiters.push(r));
  }
}
const fail = (msg) => {
  process.stderr.write(JSON.stringify({ level: "error", msg }) + "\n");
  process.exit(1);
};

const dec = (v) => v; // JSON raw fields arrive as embedded values

async function capture() {
  for (let req = await next(); req; req = await next()) {
    if (req.spec) {
      if (scenario === "spec-no-protocol") write([json ? { spec: { configSchema: {}, resourceConfigSchema: {}, documentationUrl: "x" } } : PROTO.spec(0)]);
      else if (scenario === "spec-bad-protocol") write([json ? { spec: { protocol: 1234, configSchema: {}, resourceConfigSchema: {}, documentationUrl: "x" } } : PROTO.spec(1234)]);
      else if (scenario === "unary-two") write([{ spec: { protocol: 3032023 } }, { spec: { protocol: 3032023 } }]);
      else write([json ? { spec: { protocol: 3032023, configSchema: {}, resourceConfigSchema: {}, documentationUrl: "x" } } : PROTO.spec(3032023)]);
    } else if (req.validate) {
      write([json ? { validated: { bindings: req.validate.bindings.map((b, i) => ({ resourcePath: [`raw${i}`] })) } } : PROTO.validated()]);
    } else if (req.apply) {
      // "capture-apply-rounds": the first Apply records work in its state;
      // the runtime must call Apply again with the reduced state.
      if (scenario === "capture-apply-rounds" && !req.apply.state?.drained) {
        write([{ applied: { actionDescription: "drained", state: { updated: { drained: true }, mergePatch: true } } }]);
      } else if (scenario === "capture-apply-rounds") {
        write([{ applied: { actionDescription: `applied after ${JSON.stringify(req.apply.state)}` } }]);
      } else write([json ? { applied: {} } : PROTO.applied()]);
    } else if (req.open) {
      return captureSession(req.open);
    }
  }
}

async function captureSession(open) {
  const state = open.state ?? {};
  switch (scenario) {
    case "ack-and-reduce": {
      write([{ opened: { explicitAcknowledgements: true } }]);
      write([
        { captured: { doc: { id: 1, n: 1 } } },
        { captured: { doc: { id: 1, n: 2 } } },
        { checkpoint: { state: { updated: { a: 1 }, mergePatch: true } } },
        { captured: { doc: { id: 2, n: 5 } } },
        { checkpoint: { state: { updated: { b: 2 }, mergePatch: true } } },
      ]);
      const ack = await next();
      if (!ack?.acknowledge) fail(`expected Acknowledge, got ${JSON.stringify(ack)}`);
      write([
        { captured: { doc: { id: 3, n: 0, acks: ack.acknowledge.checkpoints ?? 0, state } } },
        { checkpoint: { state: { updated: { replaced: true }, mergePatch: false } } },
      ]);
      const ack2 = await next();
      if (!ack2?.acknowledge) fail(`expected a second Acknowledge, got ${JSON.stringify(ack2)}`);
      return;
    }
    case "capture-apply-rounds":
    case "one-checkpoint":
      write([{ opened: {} }, { captured: { doc: { id: 1, n: 1 } } }, { checkpoint: { state: { updated: { one: true }, mergePatch: true } } }]);
      break;
    case "backfill-marker-with-docs":
      // A BackfillBegin in the same checkpoint as a document.
      write([{ opened: {} }, { captured: { doc: { id: 1, n: 1 } } }, { backfillBegin: {} }, { checkpoint: { state: { updated: {}, mergePatch: true } } }]);
      break;
    case "backfill-marker-then-doc":
      write([{ opened: {} }, { backfillBegin: {} }, { captured: { doc: { id: 1, n: 1 } } }, { checkpoint: { state: { updated: {}, mergePatch: true } } }]);
      break;
    case "backfill-markers-alone":
      write([
        { opened: {} },
        { backfillBegin: {} },
        { checkpoint: { state: { updated: { began: true }, mergePatch: true } } },
        { captured: { doc: { id: 1, n: 1 } } },
        { checkpoint: { state: { updated: {}, mergePatch: true } } },
        { backfillComplete: {} },
        { checkpoint: { state: { updated: { done: true }, mergePatch: true } } },
      ]);
      break;
    case "opened-not-first":
      write([{ checkpoint: { state: { updated: {}, mergePatch: true } } }]);
      break;
    case "garbage":
      write([{ opened: {} }]);
      process.stdout.write('{"captured": {"doc": nope}}\n');
      break;
    case "exit-mid-session":
      write([{ opened: {} }, { captured: { doc: { id: 1 } } }]);
      process.stderr.write(JSON.stringify({ level: "error", msg: "lost the source connection" }) + "\n");
      process.exit(3);
    case "killed-mid-message":
      // Half a response, then SIGKILL (as the OOM killer or an operator would).
      write([{ opened: {} }]);
      process.stdout.write('{"captured": {"doc": {"id"', () => process.kill(process.pid, "SIGKILL"));
      await new Promise(() => {});
    case "exit-0-mid-message":
      write([{ opened: {} }]);
      process.stdout.write('{"captured": {"doc": {"id"', () => process.exit(0));
      await new Promise(() => {});
    case "checkpoint-no-state":
      write([{ opened: {} }, { captured: { doc: { id: 1, n: 1 } } }, { checkpoint: {} }]);
      break;
    case "captured-unknown-binding":
      write([{ opened: {} }, { captured: { binding: 7, doc: { id: 1, n: 1 } } }, { checkpoint: { state: { updated: {}, mergePatch: true } } }]);
      break;
    case "captured-not-json":
      write([PROTO.opened(), PROTO.captured(0, "{id: nope"), PROTO.checkpoint("{}")]);
      break;
    default:
      fail(`unknown capture scenario ${scenario}`);
  }
  await next(); // hold the session open until the harness ends it
}

async function materialize() {
  for (let req = await next(); req; req = await next()) {
    if (req.spec) {
      if (scenario === "mat-spec-bad-protocol") write([{ spec: { protocol: 42 } }]);
      else write([{ spec: { protocol: 3032023, configSchema: {}, resourceConfigSchema: {}, documentationUrl: "x" } }]);
    } else if (req.validate) {
      write([
        {
          validated: {
            bindings: req.validate.bindings.map((b, i) => {
              // Direct form (collection) or indirect (linkedCollections + collectionIndex).
              const collection = b.collection ?? req.validate.linkedCollections[b.collectionIndex ?? 0];
              const constraints = {};
              const projectionConstraints = [];
              for (const p of collection.projections) {
                const type = p.isPrimaryKey || p.ptr === "" ? "LOCATION_REQUIRED" : "FIELD_OPTIONAL";
                constraints[p.field] = { type, reason: "raw" };
                // "mat-constraint-forms-disagree": the list forbids what the map allows.
                const listType = scenario === "mat-constraint-forms-disagree" && type === "FIELD_OPTIONAL" ? "FIELD_FORBIDDEN" : type;
                projectionConstraints.push({ field: p.field, constraint: { type: listType, reason: "raw" } });
              }
              const out = { constraints, resourcePath: [`raw${i}`], deltaUpdates: dec(b.resourceConfig)?.delta === true };
              // "mat-legacy-constraints-only": answers as connectors did before projection constraints.
              if (scenario !== "mat-legacy-constraints-only") out.projectionConstraints = projectionConstraints;
              return out;
            }),
          },
        },
      ]);
    } else if (req.apply) {
      // "apply-rounds": the first Apply only drains (and says so in its
      // state); the runtime must call Apply again to make the change.
      if (scenario === "apply-rounds" && !req.apply.state?.applyRounds) {
        write([{ applied: { actionDescription: "drained pending work", state: { updated: { applyRounds: 1 }, mergePatch: true } } }]);
      } else if (scenario === "apply-rounds") {
        write([{ applied: { actionDescription: "applied changes" } }]);
      } else write([{ applied: {} }]);
    } else if (req.open) {
      if (scenario === "stateful" || scenario === "apply-rounds") return statefulSession(req.open);
      return materializeSession();
    }
  }
}

// Reports connector state from every phase that may carry it, and logs the
// state it was opened with, so tests can check what the runtime made durable.
async function statefulSession(open) {
  process.stderr.write(JSON.stringify({ level: "info", msg: "open-state", state: open.state ?? null }) + "\n");
  write([{ opened: {} }]);
  let acked = 0, flushed = 0, started = 0;
  for (let req = await next(); req; req = await next()) {
    if (req.acknowledge) write([{ acknowledged: { state: { updated: { acked: ++acked }, mergePatch: true } } }]);
    else if (req.flush) write([{ flushed: { state: { updated: { flushed: ++flushed }, mergePatch: true } } }]);
    else if (req.startCommit) {
      const sources = req.startCommit.runtimeCheckpoint?.sources ?? {};
      const cp = Object.values(sources)[0]?.readThrough ?? null;
      write([{ startedCommit: { state: { updated: { started: ++started, cp }, mergePatch: true } } }]);
    }
  }
}

async function materializeSession() {
  if (scenario === "sink") return sinkSession();
  write([{ opened: { disableLoadOptimization: true } }]);
  const keys = [];
  let acksOwed = 0;
  for (let req = await next(); req; req = await next()) {
    if (req.acknowledge) {
      if (scenario === "flushed-before-flush") write([{ flushed: {} }]);
      else if (scenario === "loaded-before-ack") acksOwed++;
      else write([{ acknowledged: {} }]);
    } else if (req.load) {
      keys.push(req.load.key);
      if (scenario === "loaded-before-ack" && acksOwed > 0) {
        // Answers the Load, then acknowledges: the wrong way round.
        write([{ loaded: { binding: 0, doc: { id: req.load.key[0] } } }, { acknowledged: {} }]);
        acksOwed--;
      }
    } else if (req.flush) {
      if (scenario === "loaded-not-requested") write([{ loaded: { binding: 0, doc: { id: 999 } } }]);
      else if (scenario === "loaded-twice") write([{ loaded: { binding: 0, doc: { id: keys[0][0] } } }, { loaded: { binding: 0, doc: { id: keys[0][0] } } }]);
      else if (scenario === "loaded-delta-binding") write([{ loaded: { binding: 1, doc: { id: 1 } } }]);
      else if (scenario === "loaded-unknown-binding") write([{ loaded: { binding: 9, doc: { id: 1 } } }]);
      else if (scenario === "started-commit-before-flushed") {
        write([{ startedCommit: {} }]);
        continue;
      }
      write([{ flushed: {} }]);
      keys.length = 0;
    } else if (req.store) {
      // accepted
    } else if (req.startCommit) {
      write([{ startedCommit: {} }]);
    }
  }
}

// A well-behaved materialization that stores nothing: for measuring the harness itself.
async function sinkSession() {
  write([{ opened: {} }]);
  for (let req = await next(); req; req = await next()) {
    if (req.acknowledge) write([{ acknowledged: {} }]);
    else if (req.flush) write([{ flushed: {} }]);
    else if (req.startCommit) write([{ startedCommit: {} }]);
  }
}

await (protocol === "capture" ? capture() : materialize());
