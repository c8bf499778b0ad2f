/**
 * Crash safety of source-http-poll at every restart point the harness
 * offers a capture: after each transaction of a run (one checkpointed page,
 * or a backfill marker, per transaction) the session ends and a new one
 * opens with the last committed state, for each pagination style (over gRPC
 * to the connector served in this process, since a connector process takes
 * seconds to start on a loaded machine). Then the connector process itself
 * is SIGKILLed, round after round, while its next request is in flight.
 * Compared with a run without crashes: the same documents after reduction
 * by key, nothing lost, and every record committed exactly once (an
 * incremental resource's last record, which a new sweep asks for again by
 * its inclusive `since`, aside). The SIGKILL test needs a build
 * (`npx tsc -p .`).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { serveGrpc } from "../../src/transport/grpc.js";
import connector from "./connector.js";
import { runCapturePreview, type CapturePreviewResult } from "../../src/harness/index.js";
import { createLogger } from "../../src/log.js";
import { ItemServer } from "./test-server.js";
import { catalogFor, idsOf, reduced, resourceFor, STYLES, type Style } from "./testing.js";

const quiet = createLogger({ level: "error" });
const servers: ItemServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

const ITEMS = 15;

let grpcAddress = "";
let closeGrpc: () => Promise<void>;
beforeAll(async () => {
  const server = await serveGrpc(connector, { port: 0, log: quiet });
  grpcAddress = `127.0.0.1:${server.port}`;
  closeGrpc = async () => {
    await server.close(0);
  };
});
afterAll(() => closeGrpc?.());

/** A server with the items, and a catalog reading them in each of `styles` both as a backfill and incrementally. */
async function setUp(...styles: Style[]) {
  const server = await new ItemServer(`key-${Math.random().toString(36).slice(2)}`, ITEMS).start();
  servers.push(server);
  return { server, catalog: catalogFor(server, styles.flatMap((s) => [resourceFor(s, false, `${s}-full`), resourceFor(s, true, `${s}-inc`)])) };
}

const common = { timeoutMs: 60_000, log: quiet, maxTxnDocs: 1 } as const;
const ofCollection = (docs: [string, unknown][], name: string) => docs.filter(([c]) => c === `acmeCo/${name}`);

/** Every id once, except that the last item of an incremental sweep may come again. */
function expectExactlyOnce(docs: [string, unknown][], name: string, repeatable?: number) {
  const ids = idsOf(ofCollection(docs, name)).filter((id) => id !== repeatable);
  expect([...ids].sort((a, b) => a - b), `ids of ${name}`).toEqual(Array.from({ length: ITEMS }, (_, i) => i + 1).filter((id) => id !== repeatable));
}

function expectSameAsBaseline(docs: [string, unknown][], baseline: CapturePreviewResult, server: ItemServer, styles: readonly Style[]) {
  for (const s of styles) {
    for (const name of [`${s}-full`, `${s}-inc`]) {
      expect(reduced(ofCollection(docs, name))).toEqual(reduced(ofCollection(baseline.documents, name)));
      expect(reduced(ofCollection(docs, name))).toEqual(server.items);
    }
    expectExactlyOnce(docs, `${s}-full`);
    expectExactlyOnce(docs, `${s}-inc`, ITEMS);
  }
}

class Kill extends Error {}

describe("source-http-poll crash safety", () => {
  it.each(STYLES)("%s pagination: a restart after every transaction loses and repeats nothing", async (style) => {
    const { server, catalog } = await setUp(style);
    const baseline = await runCapturePreview({ catalog, grpcAddress, sessions: [-1], ...common });
    expect(baseline.stats.timedOut).toBe(false);
    const points = baseline.stats.transactions;
    expect(points).toBeGreaterThanOrEqual(8); // pages of both resources and the backfill markers

    const crashed = await runCapturePreview({ catalog, grpcAddress, sessions: [...Array(points).fill(1), -1], ...common });
    expect(crashed.stats.timedOut).toBe(false);
    expect(crashed.stats.sessions).toBe(points + 1);
    expectSameAsBaseline(crashed.documents, baseline, server, [style]);
    expect(crashed.state).toEqual(baseline.state);
  });

  it("every style at once: SIGKILLs of the connector process with a request in flight lose and repeat nothing", async () => {
    const { server, catalog } = await setUp(...STYLES);
    const baseline = await runCapturePreview({ catalog, grpcAddress, sessions: [-1], ...common });
    // Responses take a while, so a kill lands while the connector waits for one.
    server.delayMs = 30;
    let state: unknown = {};
    const committed: [string, unknown][] = [];
    let kills = 0;
    for (;;) {
      // Killed after four to eight transactions: each round starts connector processes (Spec, Validate,
      // Apply, Open), seconds each on a loaded machine; the gRPC test above covers every single point.
      const killAfter = 4 + Math.floor(Math.random() * 5);
      let txns = 0;
      const res = await runCapturePreview({
        catalog,
        initialState: state,
        ...common,
        onTransaction: (t) => {
          committed.push(...t.documents);
          state = t.state;
          if (++txns === killAfter) throw new Kill();
        },
      }).catch((err: unknown) => {
        if (err instanceof Kill) return undefined;
        throw err;
      });
      if (res) break; // the session ended by itself: everything was read
      kills++;
      expect(kills).toBeLessThan(100);
    }
    expect(kills).toBeGreaterThanOrEqual(baseline.stats.transactions / 8 - 1);
    expectSameAsBaseline(committed, baseline, server, STYLES);
    expect(state).toEqual(baseline.state);
  }, 400_000);
});
