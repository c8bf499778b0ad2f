/**
 * Runs a capture connector's open() in this process, as the tests of the
 * SQL captures do: the bindings given as namespace/stream, the state taken
 * from the output, the session stopped by aborting it.
 */
import { createLogger } from "../../src/log.js";
import type { CaptureConnector, CaptureOutput } from "../../src/sdk/types.js";

export interface TestBinding {
  namespace: string;
  stream: string;
  stateKey?: string;
}

/** An output that carries the capture's state and learns of its failure. */
export interface StatefulOutput extends CaptureOutput {
  state: unknown;
  failure: unknown;
}

/** Starts a capture session; `stop()` aborts it and waits for it to end. */
export function startCaptureSession(connector: CaptureConnector, config: Record<string, unknown>, bindings: TestBinding[], out: StatefulOutput, logs?: string[]) {
  const ac = new AbortController();
  const log = createLogger({ level: process.env.LOG_LEVEL ?? "warn", write: logs ? (l) => void logs.push(l) : undefined });
  const done = connector.open(
    {
      config: config as any,
      bindings: bindings.map((b) => ({
        resourceConfig: { namespace: b.namespace, stream: b.stream },
        resourcePath: [b.namespace, b.stream],
        collection: {} as any,
        backfill: 0,
        stateKey: b.stateKey ?? `${b.namespace}%2F${b.stream}`,
      })),
      spec: {} as any,
      version: "test",
      range: {} as any,
      state: structuredClone(out.state) as any,
    },
    out,
    { log, signal: ac.signal },
  );
  let error: unknown;
  done.catch((e) => {
    error = e;
    out.failure = e;
  });
  return {
    done,
    get error() {
      return error;
    },
    async stop() {
      ac.abort();
      await done.catch(() => {});
    },
  };
}
