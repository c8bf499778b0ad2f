/**
 * The stdio transport, as Flow's `flow-connector-init` drives an image:
 * requests on stdin, responses on stdout, logs on stderr. The codec comes
 * from FLOW_RUNTIME_CODEC: `json` is one Flow-JSON message per line;
 * anything else is protobuf with a 4-byte little-endian length prefix.
 *
 * Responses are gathered in memory and written in large chunks: at the
 * protocol boundaries the session marks (flush), and whenever the buffer
 * passes a size threshold, waiting for stdout to drain so memory stays
 * bounded however fast a connector produces.
 */
import type { Readable, Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { messageCodec, wireCodecFromEnv, type FramingCodec, type WireCodec } from "../codec/wire.js";
import { checkSpan, docSpansFramer, docsFramer, type DocFramer, type DocSpansFramer, type DocsFramer } from "../codec/fast-encode.js";
import { FrameWriter, readFrameBatches } from "../codec/frames.js";
import { RequestSchema as CaptureRequestSchema, ResponseSchema as CaptureResponseSchema } from "../gen/capture/capture_pb.js";
import {
  RequestSchema as MaterializeRequestSchema,
  ResponseSchema as MaterializeResponseSchema,
} from "../gen/materialize/materialize_pb.js";
import { ProtocolError, describeError } from "../sdk/errors.js";
import { runSession, type AnyRequest, type AnyResponse } from "../sdk/session.js";
import type { Connector } from "../sdk/types.js";
import type { ResponseSink } from "./sink.js";
import type { ConnectorMetrics } from "./metrics.js";
import { createLogger, type Logger } from "../log.js";

/** Bytes of buffered responses that trigger a write even between boundaries. */
const HIGH_WATER = 1 << 20;
/** Bytes written to stdout but not yet taken by the pipe, beyond which the session waits. */
const MAX_QUEUED = 2 * HIGH_WATER;
const DONE: Promise<void> = Promise.resolve();
const utf8 = new TextDecoder();

export interface StdioOptions {
  stdin?: Readable;
  stdout?: Writable;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  /** Aborting it stops the session (e.g. on SIGTERM). */
  signal?: AbortSignal;
  /** Counts the session's documents, transactions and failure. */
  metrics?: ConnectorMetrics;
}

export function schemasFor(connector: Connector) {
  return connector.protocol === "capture"
    ? { request: CaptureRequestSchema, response: CaptureResponseSchema }
    : { request: MaterializeRequestSchema, response: MaterializeResponseSchema };
}

/** capture.Response.captured of one document, built as a message (the generic encoder's input). */
function capturedResponse(binding: number, docJson: string | Uint8Array): AnyResponse {
  const text = typeof docJson === "string" ? docJson : utf8.decode(docJson);
  return create(CaptureResponseSchema, { captured: { binding, docJson: text } }) as AnyResponse;
}

class StdoutSink implements ResponseSink<AnyResponse> {
  private readonly frames: FrameWriter;
  /** The codec's framer of this protocol's document response (Captured or Loaded). */
  private readonly frameDoc: DocFramer;
  /** The codec's framer of a batch of Captured documents, when it has one (capture over protobuf). */
  private readonly frameDocs: DocsFramer | undefined;
  /** The codec's framer of a batch of Loaded documents, when it has one (materialize over protobuf). */
  private readonly frameDocSpans: DocSpansFramer | undefined;
  /** Bytes handed to stdout whose write has not completed yet (in Node's buffer or part-written to the pipe). */
  private queued = 0;
  private failed: Error | undefined;
  /**
   * Whether a written batch's buffer may be reused once its write completed:
   * only for the process's own stdout (a pipe, file or terminal, which holds
   * no reference to it then), not for a stream that might keep the chunk;
   * and only for a materialization, where it was measured to help (Loaded
   * framing). A capture's output measured slower with it (source-mysql's
   * stdio backfill: 3.5-3.8 against 1.6-1.7 us CPU per document, alternate
   * runs), for a reason not yet found, so captures keep fresh buffers.
   */
  private readonly recycles: boolean;
  /** Waiters for `queued` to fall (each re-checks it when woken). */
  private waiters: (() => void)[] = [];
  constructor(
    private readonly out: Writable,
    private readonly codec: FramingCodec<AnyResponse>,
    wire: WireCodec,
    private readonly capture: boolean,
  ) {
    this.frames = new FrameWriter(wire);
    this.recycles = !capture && out === process.stdout;
    this.frameDoc = codec.frameDoc ?? (() => false);
    this.frameDocs = capture ? docsFramer(CaptureResponseSchema, wire) : undefined;
    this.frameDocSpans = capture ? undefined : docSpansFramer(MaterializeResponseSchema, wire);
  }

  send(res: AnyResponse): void | Promise<void> {
    this.codec.encodeFramed(res, this.frames);
    if (this.frames.size >= HIGH_WATER) return this.flush();
  }

  sendCaptured(binding: number, docJson: string | Uint8Array): void | Promise<void> {
    if (!this.capture) return this.send(capturedResponse(binding, docJson));
    this.frameCaptured(binding, docJson);
    if (this.frames.size >= HIGH_WATER) return this.flush();
  }

  /** One capture.Response.captured into the frames: by the codec's document framer, else by the generic encoder. */
  private frameCaptured(binding: number, docJson: string | Uint8Array): void {
    if (!this.frameDoc(binding, docJson, this.frames)) this.codec.encodeFramed(capturedResponse(binding, docJson), this.frames);
  }

  sendCapturedBatch(binding: number, bytes: Uint8Array, ends: ArrayLike<number>, count: number): void | Promise<void> {
    if (!this.capture) throw new ProtocolError("a batch of Captured documents sent by a materialization");
    if (this.frameDocs === undefined || !this.frameDocs(binding, bytes, ends, count, this.frames)) {
      // Document by document, as sendCaptured() frames each, with one flush check for the batch.
      let from = 0;
      for (let k = 0; k < count; k++) this.frameCaptured(binding, bytes.subarray(from, (from = ends[k]!)));
    }
    if (this.frames.size >= HIGH_WATER) return this.flush();
  }

  sendLoaded(binding: number, docJson: Uint8Array): void | Promise<void> {
    if (this.capture) return this.send(create(MaterializeResponseSchema, { loaded: { binding, docJson } }) as AnyResponse);
    this.frameLoaded(binding, docJson);
    if (this.frames.size >= HIGH_WATER) return this.flush();
  }

  /** One materialize.Response.loaded into the frames: by the codec's document framer, else by the generic encoder. */
  private frameLoaded(binding: number, docJson: Uint8Array): void {
    if (!this.frameDoc(binding, docJson, this.frames)) {
      this.codec.encodeFramed(create(MaterializeResponseSchema, { loaded: { binding, docJson } }) as AnyResponse, this.frames);
    }
  }

  sendLoadedBatch(binding: number, bytes: Uint8Array, starts: ArrayLike<number>, ends: ArrayLike<number>, count: number): void | Promise<void> {
    if (this.capture) throw new ProtocolError("a batch of Loaded documents sent by a capture");
    if (this.frameDocSpans === undefined || !this.frameDocSpans(binding, bytes, starts, ends, count, this.frames)) {
      // Document by document, as sendLoaded() frames each, with one flush check for the batch.
      for (let k = 0; k < count; k++) {
        const s = starts[k]!;
        const e = ends[k]!;
        checkSpan(bytes, k, s, e);
        this.frameLoaded(binding, bytes.subarray(s, e));
      }
    }
    if (this.frames.size >= HIGH_WATER) return this.flush();
  }

  /**
   * Hands the batch to stdout and waits only while more than MAX_QUEUED
   * bytes are still on their way. Waiting for the pipe to empty after each
   * batch (as a 'drain' wait does) left the connector idle while the reader
   * emptied it, and the reader idle while the connector filled the next
   * one; with a batch or two in flight both work at once, and memory stays
   * bounded by MAX_QUEUED plus one batch.
   */
  flush(): Promise<void> {
    if (this.frames.size > 0) {
      const chunk = this.frames.take();
      const n = chunk.length;
      this.queued += n;
      this.out.write(chunk, (err) => {
        this.queued -= n;
        if (err) this.failed ??= err;
        // Written out: the next batch may reuse its memory (see FrameWriter.recycle).
        else if (this.recycles) this.frames.recycle(chunk);
        this.wakeAll();
      });
    }
    if (this.failed) return Promise.reject(this.failed);
    return this.queued > MAX_QUEUED ? this.waitQueued() : DONE;
  }

  private async waitQueued(): Promise<void> {
    const onError = (err: Error) => {
      this.failed ??= err;
      this.wakeAll();
    };
    this.out.on("error", onError);
    try {
      while (this.queued > MAX_QUEUED && !this.failed) await new Promise<void>((resolve) => this.waiters.push(resolve));
    } finally {
      this.out.off("error", onError);
    }
    if (this.failed) throw this.failed;
  }

  private wakeAll(): void {
    if (this.waiters.length === 0) return;
    for (const w of this.waiters.splice(0)) w();
  }
}

/**
 * The requests of stdin, one batch (array) per chunk read: the session's
 * reader takes them one by one, so a chunk costs one await, not one per
 * message. A request that does not decode ends the stream after those
 * before it were handed over.
 */
async function* decodeRequests(
  stdin: Readable,
  wire: WireCodec,
  decode: (payload: Uint8Array) => AnyRequest,
  typeName: string,
): AsyncGenerator<AnyRequest[]> {
  let n = 0;
  for await (const frames of readFrameBatches(stdin, wire)) {
    const batch: AnyRequest[] = [];
    for (const payload of frames) {
      n++;
      try {
        batch.push(decode(payload));
      } catch (err) {
        if (batch.length > 0) yield batch;
        throw new ProtocolError(`could not decode ${typeName} #${n} from stdin (${wire} codec): ${describeError(err)}`);
      }
    }
    yield batch;
  }
}

/**
 * Serves one session over stdio and resolves with the process exit code:
 * 0 when the session ended cleanly, 1 after logging the error as the last
 * line on stderr.
 */
export async function runStdio(connector: Connector, opts: StdioOptions = {}): Promise<number> {
  const stdin = opts.stdin ?? process.stdin;
  const stdout = opts.stdout ?? process.stdout;
  const log = opts.log ?? createLogger();
  const wire = wireCodecFromEnv(opts.env ?? process.env);
  const schemas = schemasFor(connector);
  const reqCodec = messageCodec(schemas.request, wire);
  const resCodec = messageCodec(schemas.response, wire);
  const sink = new StdoutSink(stdout, resCodec as FramingCodec<AnyResponse>, wire, connector.protocol === "capture");
  const decoded = decodeRequests(stdin, wire, (p) => reqCodec.decode(p) as AnyRequest, schemas.request.typeName);
  const counted = opts.metrics?.session(decoded, sink);

  try {
    await runSession(connector, counted?.requests ?? decoded, counted?.sink ?? sink, { log, signal: opts.signal });
    counted?.end();
    await sink.flush();
    await new Promise<void>((resolve) => stdout.write("", () => resolve()));
    return 0;
  } catch (err) {
    counted?.end(err);
    await sink.flush().catch(() => {});
    log.error(describeError(err), err instanceof Error && log.enabled("debug") ? { stack: err.stack } : undefined);
    return 1;
  }
}
