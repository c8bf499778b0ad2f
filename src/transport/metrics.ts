/**
 * Prometheus metrics of the sessions a server runs (`tributary serve
 * --metrics-port N`): documents and bytes per binding and direction,
 * transaction and commit durations, failed sessions by kind, open sessions.
 *
 * They are read off the protocol messages crossing the transport, so every
 * connector has them without writing a line. Directions: "captured"
 * (capture → runtime), "stored" (runtime → materialization) and "loaded"
 * (materialization → runtime). The connector's own health check, when the
 * server runs it, adds tributary_health_up and its failures by kind.
 */
import { createServer, type Server } from "node:http";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { ConnectorError, ProtocolError, networkCondition } from "../sdk/errors.js";
import type { ResponseSink } from "./sink.js";

const DURATION_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

type Direction = "captured" | "stored" | "loaded";

/** The kind of a session's failure, as the errors metric labels it. */
export function errorKind(err: unknown): string {
  if (err instanceof ProtocolError) return "protocol";
  const condition = err instanceof ConnectorError ? err.condition : networkCondition(err);
  if (condition) return condition;
  return err instanceof ConnectorError ? "connector" : "internal";
}

const size = (v: string | Uint8Array | undefined) => (v === undefined ? 0 : typeof v === "string" ? Buffer.byteLength(v) : v.length);

/**
 * Per-document counts kept as plain numbers and moved into the Prometheus
 * counters when they are read (their `collect` hook): a labelled `inc` per
 * document hashes its labels and cost a fifth of a fast capture's time.
 */
class Tally {
  /** Pending [documents, bytes] per direction and binding. */
  private readonly pending: Record<Direction, Map<number, [number, number]>> = { captured: new Map(), stored: new Map(), loaded: new Map() };

  add(binding: number, direction: Direction, bytes: number, documents = 1): void {
    const m = this.pending[direction];
    const t = m.get(binding);
    if (t === undefined) m.set(binding, [documents, bytes]);
    else {
      t[0] += documents;
      t[1] += bytes;
    }
  }

  /** Moves what is pending into the counters. */
  drain(documents: Counter<"binding" | "direction">, bytes: Counter<"binding" | "direction">): void {
    for (const direction of ["captured", "stored", "loaded"] as const) {
      for (const [binding, t] of this.pending[direction]) {
        if (t[0] === 0) continue;
        const labels = { binding: String(binding), direction };
        documents.inc(labels, t[0]);
        bytes.inc(labels, t[1]);
        t[0] = t[1] = 0;
      }
    }
  }
}

export class ConnectorMetrics {
  readonly registry = new Registry();
  private readonly tally = new Tally();
  private readonly documents: Counter<"binding" | "direction">;
  private readonly bytes: Counter<"binding" | "direction">;
  private readonly transactions: Histogram;
  private readonly commits: Histogram;
  private readonly errors: Counter<"kind">;
  private readonly sessions: Gauge;
  private readonly healthUp: Gauge;
  private readonly healthFailures: Counter<"kind">;

  constructor(connector: string) {
    this.registry.setDefaultLabels({ connector });
    const registers = [this.registry];
    // Reading either counter brings both up to date.
    const collect = () => this.tally.drain(this.documents, this.bytes);
    this.documents = new Counter({ name: "tributary_documents_total", help: "Documents by binding and direction", labelNames: ["binding", "direction"], registers, collect });
    this.bytes = new Counter({ name: "tributary_document_bytes_total", help: "Bytes of document JSON by binding and direction", labelNames: ["binding", "direction"], registers, collect });
    this.transactions = new Histogram({ name: "tributary_transaction_seconds", help: "From a transaction's first message to its checkpoint (capture) or StartedCommit (materialization)", buckets: DURATION_BUCKETS, registers });
    this.commits = new Histogram({ name: "tributary_commit_seconds", help: "From StartCommit to StartedCommit (materialization)", buckets: DURATION_BUCKETS, registers });
    this.errors = new Counter({ name: "tributary_session_errors_total", help: "Sessions that failed, by kind of error", labelNames: ["kind"], registers });
    this.sessions = new Gauge({ name: "tributary_open_sessions", help: "Sessions (streams) now open", registers });
    this.healthUp = new Gauge({ name: "tributary_health_up", help: "0 while the connector's latest health check failed, else 1 (also before any check, as the gRPC health service reports SERVING)", registers });
    this.healthUp.set(1);
    this.healthFailures = new Counter({ name: "tributary_health_check_failures_total", help: "Failed health checks, by kind of error", labelNames: ["kind"], registers });
  }

  /** Records one health check's outcome, with its error when it failed. */
  health(up: boolean, err?: unknown): void {
    this.healthUp.set(up ? 1 : 0);
    if (!up) this.healthFailures.inc({ kind: errorKind(err) });
  }

  /**
   * The counters as one plain object, for a JSON log line: documents and
   * bytes by "direction/binding", transactions and commits, errors by kind,
   * open sessions.
   */
  async summary(): Promise<Record<string, unknown>> {
    const byLabel = async (c: Counter<string>) => {
      const out: Record<string, number> = {};
      for (const v of (await c.get()).values) {
        const key = v.labels.kind !== undefined ? String(v.labels.kind) : `${v.labels.direction}/${v.labels.binding}`;
        out[key] = v.value;
      }
      return out;
    };
    const countOf = async (h: Histogram) => (await h.get()).values.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0;
    return {
      documents: await byLabel(this.documents),
      bytes: await byLabel(this.bytes),
      transactions: await countOf(this.transactions),
      commits: await countOf(this.commits),
      errors: await byLabel(this.errors),
      openSessions: (await this.sessions.get()).values[0]?.value ?? 0,
    };
  }

  private count(binding: number, direction: Direction, bytes: number, documents = 1) {
    this.tally.add(binding, direction, bytes, documents);
  }

  /**
   * Counts one session: wraps its requests and its response sink. Call the
   * returned `end` once the session is over, with its error if it failed.
   */
  session<Req, Res>(requests: AsyncIterable<Req | readonly Req[]>, sink: ResponseSink<Res>): { requests: AsyncIterable<Req | readonly Req[]>; sink: ResponseSink<Res>; end(err?: unknown): void } {
    this.sessions.inc();
    let txnStarted: number | undefined;
    let commitStarted: number | undefined;
    const begin = () => (txnStarted ??= performance.now());
    const seconds = (from: number) => (performance.now() - from) / 1000;
    const self = this;

    const observe = (req: Req) => {
      const r = req as { load?: object; flush?: object; store?: { binding: number; keyJson?: Uint8Array; valuesJson?: Uint8Array; docJson?: Uint8Array }; startCommit?: object };
      if (r.load || r.flush) begin();
      if (r.store) {
        begin();
        self.count(r.store.binding, "stored", size(r.store.keyJson) + size(r.store.valuesJson) + size(r.store.docJson));
      }
      if (r.startCommit) commitStarted = performance.now();
    };
    // The per-request loop apart from the generator: V8 optimizes this small function for it, rather than
    // recompiling the generator when a phase's requests (Loads after Stores) first reach it.
    const observeAll = (batch: readonly Req[]) => {
      for (let i = 0; i < batch.length; i++) observe(batch[i]!);
    };
    // Batches (arrays, see RequestStream) pass through whole.
    async function* observed(): AsyncGenerator<Req | readonly Req[]> {
      for await (const req of requests) {
        if (Array.isArray(req)) observeAll(req as readonly Req[]);
        else observe(req as Req);
        yield req;
      }
    }

    const observedSink: ResponseSink<Res> = {
      send(res) {
        const r = res as { captured?: { binding: number; docJson: string | Uint8Array }; checkpoint?: object; loaded?: { binding: number; docJson: Uint8Array }; startedCommit?: object };
        if (r.captured) {
          begin();
          self.count(r.captured.binding, "captured", size(r.captured.docJson));
        } else if (r.loaded) {
          self.count(r.loaded.binding, "loaded", size(r.loaded.docJson));
        } else if (r.checkpoint || r.startedCommit) {
          if (txnStarted !== undefined) self.transactions.observe(seconds(txnStarted));
          if (r.startedCommit && commitStarted !== undefined) self.commits.observe(seconds(commitStarted));
          txnStarted = commitStarted = undefined;
        }
        return sink.send(res);
      },
      flush: () => sink.flush(),
    };
    // The sink's per-document path, counted like send() counts a Captured response.
    const sendCaptured = sink.sendCaptured;
    if (sendCaptured) {
      observedSink.sendCaptured = (binding, docJson) => {
        begin();
        self.count(binding, "captured", size(docJson));
        return sendCaptured.call(sink, binding, docJson);
      };
    }
    // A batch of Captured documents, counted as sendCaptured() of each would count them (the batch is all document bytes).
    const sendCapturedBatch = sink.sendCapturedBatch;
    if (sendCapturedBatch) {
      observedSink.sendCapturedBatch = (binding, bytes, ends, count) => {
        if (count > 0) {
          begin();
          self.count(binding, "captured", bytes.length, count);
        }
        return sendCapturedBatch.call(sink, binding, bytes, ends, count);
      };
    }
    // Likewise for Loaded, counted like send() counts a Loaded response.
    const sendLoaded = sink.sendLoaded;
    if (sendLoaded) {
      observedSink.sendLoaded = (binding, docJson) => {
        self.count(binding, "loaded", size(docJson));
        return sendLoaded.call(sink, binding, docJson);
      };
    }

    // A batch of Loaded documents, counted as sendLoaded() of each would count them.
    const sendLoadedBatch = sink.sendLoadedBatch;
    if (sendLoadedBatch) {
      observedSink.sendLoadedBatch = (binding, bytes, starts, ends, count) => {
        if (count > 0) {
          let n = 0;
          for (let k = 0; k < count; k++) n += ends[k]! - starts[k]!;
          self.count(binding, "loaded", n, count);
        }
        return sendLoadedBatch.call(sink, binding, bytes, starts, ends, count);
      };
    }

    let ended = false;
    return {
      requests: observed(),
      sink: observedSink,
      end: (err?: unknown) => {
        if (ended) return;
        ended = true;
        this.sessions.dec();
        if (err !== undefined) this.errors.inc({ kind: errorKind(err) });
      },
    };
  }
}

/** Serves `metrics` at http://host:port/metrics until closed. */
export async function serveMetrics(metrics: ConnectorMetrics, host: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404).end("not found; metrics are at /metrics\n");
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new Error(`could not serve metrics on ${host}:${port}: ${err.message}`)));
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
