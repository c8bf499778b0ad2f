/**
 * What the runtime drivers need from a connector session, whatever carries
 * it: a spawned process over stdio (connector-process.ts) or a stream of a
 * gRPC server (grpc-session.ts).
 */
import type { ConnectorEndpoint } from "./catalog.js";
import { ConnectorProcess, type SpawnOptions, TIMED_OUT } from "./connector-process.js";
import { GrpcSession } from "./grpc-session.js";
import type { ProtocolWire } from "./wire.js";

export { TIMED_OUT };

export interface ConnectorSession<Req, Res> {
  send(req: Req): Promise<void>;
  sendMany(reqs: Req[]): Promise<void>;
  /** Ends the request stream. */
  closeInput(): void;
  /** The next response; undefined at a clean end; throws ConnectorFailed or ProtocolViolation. */
  next(): Promise<Res | undefined>;
  /** Like next(), giving up after `ms` (nothing consumed). */
  nextWithin(ms: number | undefined): Promise<Res | undefined | typeof TIMED_OUT>;
  /** True when a decoded response is waiting. */
  hasBuffered(): boolean;
  /** Ends the session abruptly: SIGKILL for a process, cancellation for a gRPC stream. */
  kill(): Promise<void>;
  /** Closes the request stream and waits for a clean end (then kills). */
  stop(graceMs?: number): Promise<unknown>;
  readonly lastMessage: string;
}

/** Spawns the endpoint's command, or opens a stream to its gRPC address. */
export function openConnector<Req extends object, Res extends object>(
  endpoint: ConnectorEndpoint,
  wire: ProtocolWire<Req, Res>,
  protocol: "capture" | "materialize",
  opts: SpawnOptions,
): ConnectorSession<Req, Res> {
  if (endpoint.grpcAddress) return new GrpcSession<Req, Res>(endpoint.grpcAddress, protocol, opts);
  return new ConnectorProcess<Req, Res>(endpoint, wire, opts);
}
