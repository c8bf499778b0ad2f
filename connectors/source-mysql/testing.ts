/**
 * Test support: runs the connector in-process against source-postgres's
 * runtime-like MemoryOutput, or in a child process through the shared test
 * driver (to kill it).
 */
import { createLogger } from "../../src/log.js";
import { DriverProcess, MemoryOutput, type TestBinding } from "../source-postgres/testing.js";
import type { MariaDbServer } from "../../test/support/mariadb-server.js";
import connector from "./connector.js";
import type { CaptureState } from "./capture.js";

export { MemoryOutput, reduceByKey, type Captured } from "../source-postgres/testing.js";

export function configFor(db: MariaDbServer, extra: Record<string, unknown> = {}) {
  return { address: `${db.host}:${db.port}`, user: db.user, heartbeat_interval_seconds: 1, ...extra };
}

export function startCapture(config: Record<string, unknown>, bindings: TestBinding[], out: MemoryOutput, logs?: string[]) {
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
      state: structuredClone(out.state),
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

/** The connector in a child process, as source-postgres's crash tests run theirs. */
export function driver(config: Record<string, unknown>, bindings: TestBinding[], state: CaptureState, opts: { keep?: boolean } = {}): DriverProcess {
  return new DriverProcess(config, bindings, state as any, { ...opts, connector: "source-mysql" });
}

/** The binding state of `key` in a capture state. */
export function modeOf(state: unknown, key: string): string | undefined {
  return (state as CaptureState).bindingStateV1?.[key]?.mode;
}
