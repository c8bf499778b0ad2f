/**
 * Test support: runs the connector in-process against source-postgres's
 * runtime-like MemoryOutput, or in a child process through the shared test
 * driver (to kill it).
 */
import { DriverProcess, type MemoryOutput, type TestBinding } from "../source-postgres/testing.js";
import { startCaptureSession } from "../../test/support/capture-in-process.js";
import type { MariaDbServer } from "../../test/support/mariadb-server.js";
import connector from "./connector.js";
import type { CaptureState } from "./capture.js";

export { MemoryOutput, reduceByKey, type Captured } from "../source-postgres/testing.js";

export function configFor(db: MariaDbServer, extra: Record<string, unknown> = {}) {
  return { address: `${db.host}:${db.port}`, user: db.user, heartbeat_interval_seconds: 1, ...extra };
}

/** Starts a capture session; `stop()` aborts it and waits for it to end. */
export function startCapture(config: Record<string, unknown>, bindings: TestBinding[], out: MemoryOutput, logs?: string[]) {
  return startCaptureSession(connector, config, bindings, out, logs);
}

/** The connector in a child process, as source-postgres's crash tests run theirs. */
export function driver(config: Record<string, unknown>, bindings: TestBinding[], state: CaptureState, opts: { keep?: boolean } = {}): DriverProcess {
  return new DriverProcess(config, bindings, state as any, { ...opts, connector: "source-mysql" });
}

/** The binding state of `key` in a capture state. */
export function modeOf(state: unknown, key: string): string | undefined {
  return (state as CaptureState).bindingStateV1?.[key]?.mode;
}
