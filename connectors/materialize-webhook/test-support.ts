/**
 * A real HTTP receiver for the webhook tests (node:http on a free port):
 * records every request, can de-duplicate by idempotency key as a careful
 * receiver would, and can be told to fail the next requests.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  key: string;
}

export interface Failure {
  status: number;
  headers?: Record<string, string>;
}

export class Receiver {
  /** Every request answered 2xx and kept (duplicates dropped when dedup is on). */
  readonly accepted: Received[] = [];
  /** Every POST answered 2xx, repeats included: what a receiver that does not de-duplicate keeps. */
  readonly posted: Received[] = [];
  /** Every request that reached the handler, including failed and dropped ones. */
  readonly seen: Received[] = [];
  /** Answers for the next requests, in order, before any is accepted. */
  readonly failures: Failure[] = [];
  private readonly keys = new Set<string>();
  private server?: Server;
  url = "";

  constructor(
    readonly dedup: boolean,
    readonly keyHeader = "idempotency-key",
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const r: Received = { path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), key: String(req.headers[this.keyHeader] ?? "") };
        this.seen.push(r);
        const f = req.method === "POST" ? this.failures.shift() : undefined;
        if (f) {
          res.writeHead(f.status, f.headers).end("receiver says no");
          return;
        }
        if (req.method === "POST") this.posted.push(r);
        if (req.method === "POST" && !(this.dedup && this.keys.has(r.key))) {
          this.keys.add(r.key);
          this.accepted.push(r);
        }
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** The documents of `requests` (default: the accepted ones) by request path, in arrival order. */
  docsByPath(requests: Received[] = this.accepted, parse: (body: string) => unknown[] = (b) => JSON.parse(b) as unknown[]): Record<string, unknown[]> {
    const out: Record<string, unknown[]> = {};
    for (const r of requests) (out[r.path] ??= []).push(...parse(r.body));
    return out;
  }
}

export const jsonLines = (body: string): unknown[] =>
  body
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l));
