/**
 * The part of a session both protocols share: read requests one at a time,
 * hand each to the protocol's handler with a context and a way to answer,
 * and always release the stream and abort the context at the end.
 */
import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import type { ResponseSink } from "../transport/sink.js";
import type { SessionOptions } from "./session.js";
import { RequestReader, type Received, type RequestStream, type Variants } from "./reader.js";
import type { Context } from "./types.js";
import { UnknownFieldLog } from "./unknown-log.js";
import { ProtocolError } from "./errors.js";

export interface Phase<Req extends object, Res extends DescMessage> {
  reader: RequestReader<Req>;
  ctx: Context;
  /** Aborts ctx.signal, e.g. when the runtime closes the stream. */
  abort: AbortController;
  /** Sends one response and flushes it: the answer of a unary phase. */
  respond(init: MessageInitShape<Res>): Promise<void>;
}

/**
 * Serves requests until the stream ends or `handle` returns true (the
 * session it started is over).
 */
export async function servePhases<Req extends object, Res extends DescMessage>(
  requests: RequestStream<Req>,
  sink: ResponseSink<unknown>,
  opts: SessionOptions,
  proto: { requestSchema: DescMessage; variants: Variants; responseSchema: Res },
  handle: (r: Received<Req>, phase: Phase<Req, Res>) => Promise<boolean>,
): Promise<void> {
  const unknown = new UnknownFieldLog(opts.log);
  const schema = proto.requestSchema;
  const reader = new RequestReader(requests, schema.typeName, proto.variants, (req) => unknown.note(schema, req));
  const abort = new AbortController();
  opts.signal?.addEventListener("abort", () => abort.abort(opts.signal!.reason), { once: true });
  const phase: Phase<Req, Res> = {
    reader,
    abort,
    ctx: { log: opts.log, signal: abort.signal },
    async respond(init) {
      await sink.send(create(proto.responseSchema, init));
      await sink.flush();
    },
  };
  try {
    for (;;) {
      const r = await reader.next();
      if (!r || (await handle(r, phase))) return;
    }
  } finally {
    abort.abort();
    reader.close();
  }
}

/**
 * The answer to a request that needs a session before any was opened
 * (Acknowledge, Load, Flush, ...): only Spec, Discover/Validate, Apply and
 * Open may come first on a stream.
 */
export function beforeOpen(r: Received<object>): ProtocolError {
  return new ProtocolError(`${r.name} is only valid after Open, and this stream has not opened a session`);
}
