/**
 * The materialization half of `tributary preview`: feeds a fixture (or
 * stdin) through the connector and reports what happened on stderr.
 */
import type { Logger } from "../log.js";
import type { Catalog } from "../harness/catalog.js";
import { runMaterializePreview } from "../harness/materialize-runtime.js";
import type { ProtocolForm } from "../harness/protocol-form.js";
import { parseCrashPoint } from "../harness/faults.js";
import { HarnessError } from "../harness/errors.js";
import type { WireCodec } from "../harness/wire.js";

export async function previewMaterialization(
  catalog: Catalog,
  name: string | undefined,
  o: Record<string, string | true>,
  common: { codec?: WireCodec; timeoutMs?: number; log: Logger; protocolForm?: ProtocolForm },
): Promise<number> {
  for (const capOnly of ["sessions", "initial-state", "output-state", "output-commits"]) {
    if (o[capOnly] !== undefined) throw new HarnessError(`--${capOnly} applies to captures only`);
  }
  const shards = typeof o.shards === "string" ? Number(o.shards) : undefined;
  if (shards !== undefined && (!Number.isInteger(shards) || shards < 1)) throw new HarnessError(`--shards must be a positive integer, got ${JSON.stringify(o.shards)}`);
  const fromStdin = o.fixture === undefined || o.fixture === "-";
  let res: Awaited<ReturnType<typeof runMaterializePreview>>;
  try {
    res = await runMaterializePreview({
      catalog,
      name,
      fixture: typeof o.fixture === "string" ? o.fixture : "-",
      recoveryLog: typeof o["recovery-log"] === "string" ? o["recovery-log"] : undefined,
      crashAt: typeof o["crash-at"] === "string" ? o["crash-at"].split(",").map(parseCrashPoint) : undefined,
      zombie: o.zombie === true,
      shards,
      codec: common.codec,
      protocolForm: common.protocolForm,
      timeoutMs: common.timeoutMs,
      validate: o["no-validate"] !== true,
      log: common.log,
      logLevel: typeof o["log-level"] === "string" ? o["log-level"] : undefined,
    });
  } finally {
    // Input that is still open (a never-ending pipe) must not keep the process alive, whatever the outcome.
    if (fromStdin) process.stdin.destroy();
  }
  // A summary on stdout, one JSON object, for scripts; a reader that is
  // already gone is no error.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
  });
  process.stdout.write(
    JSON.stringify({
      applied: res.applyDescription,
      stats: res.stats,
      shards: res.shards.map((s) => ({
        range: s.name,
        transactions: s.transactions,
        sessions: s.sessions,
        crashes: s.crashes,
        resumedFrom: s.resumedFrom,
        checkpoint: s.checkpoint,
        connectorState: s.connectorState,
        recoveryLog: s.recoveryLog,
        ...(s.zombie ? { zombie: s.zombie } : {}),
      })),
    }) + "\n",
  );
  return 0;
}
