/**
 * A connector session over gRPC: one bidirectional stream of the
 * connector's service at an address (e.g. `tributary serve <connector>`),
 * as Flow's runtime talks to connector-init. Always protobuf. "Killing" a
 * stream cancels it: the closest a client can come to a crash of a server
 * it does not own.
 */
import * as grpc from "@grpc/grpc-js";
import { serviceFor } from "../transport/grpc-services.js";
import { ConnectorFailed } from "./errors.js";
import { TIMED_OUT, waitReady, type SpawnOptions } from "./connector-process.js";

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": -1,
  "grpc.max_send_message_length": -1,
};

function newClient(address: string, protocol: "capture" | "materialize"): grpc.Client {
  const service = serviceFor(protocol);
  const Ctor = grpc.makeGenericClientConstructor(service.definition, service.name);
  return new Ctor(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
}

export class GrpcSession<Req, Res> {
  private readonly call: grpc.ClientDuplexStream<Req, Res>;
  private readonly queue: Res[] = [];
  private ended = false;
  private failure: Error | undefined;
  private cancelled = false;
  private waiter: (() => void) | undefined;
  private readonly done: Promise<void>;
  lastMessage = "";

  constructor(
    address: string,
    protocol: "capture" | "materialize",
    private readonly opts: SpawnOptions,
  ) {
    const service = serviceFor(protocol);
    // One channel per session, closed when the stream ends.
    const client = newClient(address, protocol);
    const method = (client as unknown as Record<string, () => grpc.ClientDuplexStream<Req, Res>>)[service.method]!;
    this.call = method.call(client);
    this.done = new Promise<void>((resolve) => {
      this.call.on("data", (res: Res) => {
        this.queue.push(res);
        // Backpressure: stop reading while many responses wait.
        if (this.queue.length > 20_000) this.call.pause();
        this.wake();
      });
      this.call.on("end", () => {
        this.ended = true;
        this.wake();
        resolve();
      });
      this.call.on("error", (err: grpc.ServiceError) => {
        this.lastMessage = err.details || err.message;
        if (!this.cancelled) {
          this.failure = new ConnectorFailed(`connector ${opts.label} at ${address} failed: ${grpc.status[err.code] ?? err.code}: ${this.lastMessage}`, null, null, this.lastMessage);
        }
        this.ended = true;
        this.wake();
        resolve();
      });
    }).then(() => client.close());
  }

  private wake() {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  hasBuffered(): boolean {
    return this.queue.length > 0;
  }

  async send(req: Req): Promise<void> {
    if (this.ended || this.cancelled) return;
    if (!this.call.write(req)) await new Promise<void>((resolve) => this.call.once("drain", () => resolve()));
  }

  async sendMany(reqs: Req[]): Promise<void> {
    for (const r of reqs) await this.send(r);
  }

  closeInput(): void {
    if (!this.ended) this.call.end();
  }

  async next(): Promise<Res | undefined> {
    for (;;) {
      if (this.queue.length) {
        const r = this.queue.shift()!;
        if (this.queue.length <= 5_000 && this.call.isPaused()) this.call.resume();
        return r;
      }
      if (this.failure) throw this.failure;
      if (this.cancelled) throw new ConnectorFailed(`connector ${this.opts.label} was cancelled by the harness`, null, null, this.lastMessage);
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  async nextWithin(ms: number | undefined): Promise<Res | undefined | typeof TIMED_OUT> {
    if (ms === undefined) return this.next();
    const ready = () => this.queue.length > 0 || !!this.failure || this.ended || this.cancelled;
    if (!(await waitReady(ready, ms, (wake) => (this.waiter = wake)))) return TIMED_OUT;
    return this.next();
  }

  async kill(): Promise<void> {
    if (!this.ended) {
      this.cancelled = true;
      this.call.cancel();
    }
    await this.done;
  }

  async stop(graceMs = 5000): Promise<void> {
    this.closeInput();
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([this.done.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs)))]);
    clearTimeout(timer);
    if (!finished) await this.kill();
  }
}
