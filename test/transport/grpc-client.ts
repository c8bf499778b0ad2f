/**
 * A plain grpc-js client for the connector services, as Flow's runtime
 * would use them: open a bidi stream, write requests, read responses and
 * the final status.
 */
import * as grpc from "@grpc/grpc-js";
import { service as healthDefinition } from "grpc-health-check";
import type { ConnectorService } from "../../src/transport/grpc-services.js";

const CLIENT_OPTIONS: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": -1,
  "grpc.max_send_message_length": -1,
};

export function connect(port: number): grpc.Client {
  return new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), CLIENT_OPTIONS);
}

export type Stream<Req, Res> = grpc.ClientDuplexStream<Req, Res>;

/** Opens the service's bidi method; messages are encoded by the service's own codec. */
export function openStream<Req, Res>(client: grpc.Client, svc: ConnectorService): Stream<Req, Res> {
  const def = svc.definition[svc.method]!;
  const call: Stream<Req, Res> = client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize);
  inbox(call);
  return call;
}

/** Opens the method with no serialization, to send arbitrary bytes. */
export function openRawStream<Res>(client: grpc.Client, svc: ConnectorService): Stream<Buffer, Res> {
  const def = svc.definition[svc.method]!;
  const call: Stream<Buffer, Res> = client.makeBidiStreamRequest(def.path, (b: Buffer) => b, def.responseDeserialize);
  inbox(call);
  return call;
}

export interface Outcome<Res> {
  responses: Res[];
  code: grpc.status;
  details: string;
}

/** Reads every response until the call ends, and its status. */
export function outcome<Res>(call: Stream<any, Res>): Promise<Outcome<Res>> {
  const responses: Res[] = [];
  call.on("data", (r: Res) => responses.push(r));
  return new Promise((resolve) => {
    // A failed call reports its status through 'error' and then 'status'.
    call.on("status", (s: grpc.StatusObject) => resolve({ responses, code: s.code, details: s.details }));
    call.on("error", () => {});
  });
}

/** Writes `reqs`, half-closes, and returns what came back. */
export async function exchange<Req, Res>(client: grpc.Client, svc: ConnectorService, reqs: Req[]): Promise<Outcome<Res>> {
  const call = openStream<Req, Res>(client, svc);
  const done = outcome(call);
  for (const r of reqs) call.write(r);
  call.end();
  return done;
}

/**
 * Every response of a stream in arrival order, buffered from the moment the
 * stream opens: a response that arrives while a test is not waiting (during
 * a sleep, say) is kept for the next `nextResponse` instead of being lost.
 */
interface Inbox<Res> {
  queued: Res[];
  waiters: Array<{ resolve: (r: Res) => void; reject: (e: Error) => void }>;
  ended?: Error;
}
const inboxes = new WeakMap<object, Inbox<any>>();

function inbox<Res>(call: Stream<any, Res>): Inbox<Res> {
  let box = inboxes.get(call) as Inbox<Res> | undefined;
  if (box) return box;
  const b: Inbox<Res> = { queued: [], waiters: [] };
  inboxes.set(call, b);
  call.on("data", (r: Res) => {
    const w = b.waiters.shift();
    if (w) w.resolve(r);
    else b.queued.push(r);
  });
  const onEnd = (err?: Error) => {
    b.ended ??= err ?? new Error("the stream ended before another response");
    for (const w of b.waiters.splice(0)) w.reject(b.ended);
  };
  call.on("error", onEnd);
  call.on("end", () => onEnd());
  return b;
}

/** The next response of a stream (buffered since the stream was opened). */
export function nextResponse<Res>(call: Stream<any, Res>): Promise<Res> {
  const box = inbox(call);
  if (box.queued.length > 0) return Promise.resolve(box.queued.shift()!);
  if (box.ended) return Promise.reject(box.ended);
  return new Promise((resolve, reject) => box.waiters.push({ resolve, reject }));
}

const HealthClient = grpc.makeClientConstructor(
  healthDefinition as unknown as grpc.ServiceDefinition,
  "grpc.health.v1.Health",
);

type HealthClient = InstanceType<typeof HealthClient>;

export function healthClient(port: number): HealthClient {
  return new HealthClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

/** Health/Check for `service`: the status name, or the gRPC error code. */
export function healthCheck(client: HealthClient, service: string): Promise<string | grpc.status> {
  return new Promise((resolve) =>
    client.check({ service }, (err: grpc.ServiceError | null, res: { status: string }) =>
      resolve(err ? err.code : res.status),
    ),
  );
}
