/**
 * The gRPC transport: one server serving one connector.
 *
 * Each incoming stream of the connector's service is one session of the
 * shared core (runSession), exactly as one process lifetime is over stdio.
 * Health checking and server reflection are served alongside, so that
 * orchestrators can probe the server and grpcurl / `buf curl` can call it
 * without .proto files. The health status follows the connector's own
 * health check when it has one (see health.ts): NOT_SERVING while it fails.
 */
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { ReflectionService } from "@grpc/reflection";
import type { Connector } from "../sdk/types.js";
import { runSession, type AnyRequest, type AnyResponse } from "../sdk/session.js";
import { ConnectorError, ProtocolError, describeError } from "../sdk/errors.js";
import { createLogger, type Logger } from "../log.js";
import { DEFAULT_MAX_FRAME } from "../codec/frames.js";
import type { ResponseSink } from "./sink.js";
import { serviceFor, type ConnectorService } from "./grpc-services.js";
import { HEALTH_SERVICE, reflectionPackage } from "./grpc-reflection.js";
import type { ConnectorMetrics } from "./metrics.js";
import { HealthMonitor, type HealthOptions } from "./health.js";

export interface GrpcServeOptions {
  /** Interface to listen on; default 127.0.0.1 (use 0.0.0.0 in a container). */
  host?: string;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /**
   * Largest request message accepted, in bytes (default 256 MiB, the stdio
   * transport's frame limit). A larger one ends its stream with
   * RESOURCE_EXHAUSTED as soon as its length prefix arrives, before its
   * bytes are buffered; other streams are unaffected.
   */
  maxMessageBytes?: number;
  log?: Logger;
  /** Counts every session's documents, transactions and failures. */
  metrics?: ConnectorMetrics;
  /**
   * How the connector's healthCheck runs: with which config, how often.
   * Default: every 10 s with the config of the most recent Open.
   */
  health?: HealthOptions;
}

export interface GrpcServer {
  host: string;
  port: number;
  /**
   * Stops accepting streams, reports NOT_SERVING, and waits up to `graceMs`
   * (default 30 s) for open streams to finish before cancelling them.
   * `forced` tells whether any stream had to be cancelled.
   */
  close(graceMs?: number): Promise<{ forced: boolean }>;
}

export const DEFAULT_GRACE_MS = 30_000;

function serverOptions(maxMessageBytes: number): grpc.ServerOptions {
  return {
    // grpc-js checks each message's length prefix against this and answers
    // RESOURCE_EXHAUSTED without buffering the message.
    "grpc.max_receive_message_length": maxMessageBytes,
    // Responses are the connector's own (documents reach 16 MB): no limit.
    "grpc.max_send_message_length": -1,
    // Sessions live for hours and may be quiet for long stretches; ping idle
    // connections so that a vanished peer is noticed and its session ends.
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 20_000,
  };
}

type Call = grpc.ServerDuplexStream<Buffer, Buffer>;

/**
 * Bytes of encoded responses handed to grpc-js but not yet written to
 * HTTP/2 before send() asks the caller to wait; it resumes at half. Waiting
 * on this budget instead of grpc-js's 16-message 'drain' keeps the stream
 * busy while the connector produces more (the drain only comes once every
 * queued message is out), and bounds memory by bytes, not message count.
 */
const SEND_BUDGET = 1 << 20;

/** Encodes responses and writes them to a call, within SEND_BUDGET bytes in flight. */
class CallSink implements ResponseSink<AnyResponse> {
  private sent = 0;
  private written = 0;
  /** Encoded bytes of the responses sent but not yet written. */
  private queued = 0;
  /** Resolved once `queued` is down to `below` (or the call is cancelled). */
  private waiters: { below: number; resolve: () => void }[] = [];

  constructor(
    private readonly call: Call,
    private readonly signal: AbortSignal,
    private readonly encode: (res: AnyResponse) => Buffer,
  ) {
    // A cancelled call never finishes its writes: release waiters.
    signal.addEventListener("abort", () => {
      for (const w of this.waiters.splice(0)) w.resolve();
    });
  }

  send(res: AnyResponse): void | Promise<void> {
    if (this.signal.aborted) throw new Error("the stream was cancelled");
    const bytes = this.encode(res);
    const n = bytes.length;
    this.sent++;
    this.queued += n;
    this.call.write(bytes, () => {
      this.written++;
      this.queued -= n;
      if (this.waiters.length === 0) return;
      const ready = this.waiters.filter((w) => this.queued <= w.below);
      if (ready.length === 0) return;
      this.waiters = this.waiters.filter((w) => this.queued > w.below);
      for (const w of ready) w.resolve();
    });
    if (this.queued <= SEND_BUDGET) return;
    return this.until(SEND_BUDGET / 2).then(() => {
      if (this.signal.aborted) throw new Error("the stream was cancelled");
    });
  }

  private until(below: number): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ below, resolve }));
  }

  /** Resolves once grpc-js has handed every response sent so far to HTTP/2. */
  flush(): Promise<void> {
    if (this.written >= this.sent || this.signal.aborted) return Promise.resolve();
    return this.until(0);
  }
}

/** The call's request side, decoded, each shown to `seen`; ends when the client half-closes. */
async function* decodeRequests(call: Call, service: ConnectorService, seen: (req: AnyRequest) => void): AsyncGenerator<AnyRequest> {
  // Keep the call open if the session stops reading early: responses and
  // the status still have to go out on it.
  for await (const bytes of call.iterator({ destroyOnReturn: false })) {
    let req: AnyRequest;
    try {
      req = service.decodeRequest(bytes as Buffer) as AnyRequest;
    } catch (err) {
      // The codec's message names the message type and what was wrong.
      throw new ProtocolError(describeError(err));
    }
    seen(req);
    yield req;
  }
}

/**
 * The status a failed session ends with: a server that is out of reach or
 * out of resources is retryable (UNAVAILABLE, RESOURCE_EXHAUSTED), other
 * connector and protocol errors are the request's fault (INVALID_ARGUMENT),
 * anything else is a bug (INTERNAL).
 */
export function statusFor(err: unknown): grpc.status {
  if (err instanceof ConnectorError) {
    if (err.condition === "unavailable") return grpc.status.UNAVAILABLE;
    if (err.condition === "exhausted") return grpc.status.RESOURCE_EXHAUSTED;
    return grpc.status.INVALID_ARGUMENT;
  }
  return err instanceof ProtocolError ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL;
}

function hostPort(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

export async function serveGrpc(connector: Connector, opts: GrpcServeOptions = {}): Promise<GrpcServer> {
  const host = opts.host ?? "127.0.0.1";
  const log = opts.log ?? createLogger();
  const service = serviceFor(connector.protocol);
  // grpc-js writes its own diagnostics to stderr as plain text; route them
  // into the structured log so that every stderr line stays parseable.
  const text = (args: unknown[]) => args.map(String).join(" ");
  grpc.setLogger({
    error: (...args: unknown[]) => log.warn(text(args), { component: "grpc-js" }),
    info: (...args: unknown[]) => log.debug(text(args), { component: "grpc-js" }),
    debug: (...args: unknown[]) => log.debug(text(args), { component: "grpc-js" }),
  });
  const maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_FRAME;
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 1 || maxMessageBytes > 2 ** 31 - 1) {
    throw new Error(`the largest message size must be from 1 byte to 2 GiB - 1, not ${maxMessageBytes}`);
  }
  const served = ["", service.name];
  let health: HealthImplementation | undefined;
  let draining = false;
  // Made before the server so that an invalid health config fails before listening.
  const monitor = new HealthMonitor(
    connector,
    opts.health ?? {},
    log.with({ component: "health" }),
    (healthy) => {
      if (draining) return;
      for (const s of served) health?.setStatus(s, healthy ? "SERVING" : "NOT_SERVING");
    },
    opts.metrics,
  );
  const server = new grpc.Server(serverOptions(maxMessageBytes));

  // Sessions in flight, so that a forced shutdown can abort them.
  const sessions = new Set<AbortController>();
  let streamSeq = 0;

  const handle = (call: Call) => {
    const stream = ++streamSeq;
    const slog = log.with({ stream });
    const abort = new AbortController();
    sessions.add(abort);
    call.on("cancelled", () => abort.abort(new Error("the client cancelled the stream")));
    slog.debug("stream opened", { method: `${service.name}/${service.method}`, peer: call.getPeer() });

    const requests = decodeRequests(call, service, (req) => monitor.seen(req));
    const sink = new CallSink(call, abort.signal, service.encodeResponse);
    const counted = opts.metrics?.session(requests, sink);
    runSession(connector, counted?.requests ?? requests, counted?.sink ?? sink, {
      log: slog,
      signal: abort.signal,
    }).then(
      () => {
        counted?.end();
        slog.debug("stream finished");
        if (!call.cancelled) call.end();
      },
      (err: unknown) => {
        counted?.end(err);
        if (call.cancelled) {
          slog.debug("stream ended after cancellation", { error: describeError(err) });
          return;
        }
        const code = statusFor(err);
        const details = describeError(err);
        if (code === grpc.status.INTERNAL) {
          slog.error("stream failed", { error: details, stack: err instanceof Error ? err.stack : undefined });
        } else {
          slog.warn("stream failed", { error: details });
        }
        // grpc-js turns an 'error' event into the call's final status, sent
        // after the responses already queued.
        call.emit("error", { code, details });
      },
    ).finally(() => sessions.delete(abort));
  };
  server.addService(service.serverDefinition, { [service.method]: handle });

  health = new HealthImplementation(Object.fromEntries(served.map((s) => [s, "SERVING" as const])));
  // Health Watch streams never end on their own and would hold a drain open
  // for the whole grace period; remember them so close() can end them right
  // after they have been told NOT_SERVING.
  const watches = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  health.addToServer({
    addService: (def: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation) =>
      server.addService(def, {
        ...impl,
        watch: (call: grpc.ServerWritableStream<unknown, unknown>) => {
          watches.add(call);
          call.on("cancelled", () => watches.delete(call));
          (impl.watch as (c: typeof call) => void)(call);
        },
      }),
  });
  new ReflectionService(reflectionPackage(service), { services: [service.name, HEALTH_SERVICE] }).addToServer(server);

  const address = hostPort(host, opts.port ?? 0);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (!err) return resolve(bound);
      server.forceShutdown();
      reject(new Error(`could not listen on ${address}: ${err.message}`));
    }),
  );

  let closing: Promise<{ forced: boolean }> | undefined;
  let settle: ((forced: boolean) => void) | undefined;
  let deadline = Infinity;
  let timer: NodeJS.Timeout | undefined;
  const forceNow = () => {
    log.warn("grace period over; cancelling open streams", { openStreams: sessions.size });
    for (const s of sessions) s.abort(new Error("the server is shutting down"));
    server.forceShutdown();
    settle?.(true);
  };
  // A later call with a shorter grace period (e.g. a second SIGINT) moves
  // the deadline closer; it never extends it.
  const close = (graceMs = DEFAULT_GRACE_MS) => {
    const at = Date.now() + graceMs;
    if (at < deadline) {
      deadline = at;
      clearTimeout(timer);
      timer = setTimeout(forceNow, graceMs);
    }
    return (closing ??= new Promise((resolve) => {
      settle = (forced) => {
        settle = undefined;
        clearTimeout(timer);
        resolve({ forced });
      };
      draining = true;
      monitor.stop();
      for (const s of served) health!.setStatus(s, "NOT_SERVING");
      for (const w of watches) w.end();
      log.info("draining", { openStreams: sessions.size, graceMs });
      // Refuses new connections and streams; calls back once open ones end.
      server.tryShutdown(() => settle?.(false));
    }));
  };

  monitor.start();
  return { host, port, close };
}
