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
  return client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize);
}

/** Opens the method with no serialization, to send arbitrary bytes. */
export function openRawStream<Res>(client: grpc.Client, svc: ConnectorService): Stream<Buffer, Res> {
  const def = svc.definition[svc.method]!;
  return client.makeBidiStreamRequest(def.path, (b: Buffer) => b, def.responseDeserialize);
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

/** The next response of a stream. */
export function nextResponse<Res>(call: Stream<any, Res>): Promise<Res> {
  return new Promise((resolve, reject) => {
    const onData = (r: Res) => {
      cleanup();
      resolve(r);
    };
    const onEnd = (err?: Error) => {
      cleanup();
      reject(err ?? new Error("the stream ended before another response"));
    };
    const cleanup = () => {
      call.off("data", onData);
      call.off("error", onEnd);
      call.off("end", onEnd);
    };
    call.on("data", onData);
    call.on("error", onEnd);
    call.on("end", onEnd);
  });
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
