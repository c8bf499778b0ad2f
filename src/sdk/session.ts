/**
 * Runs one connector stream: the transport hands over decoded requests and a
 * sink for responses; the protocol's state machine lives in capture.ts and
 * materialize.ts and is never re-implemented by a connector or transport.
 */
import type { Connector } from "./types.js";
import type { ResponseSink } from "../transport/sink.js";
import type { Logger } from "../log.js";
import type { Request as CaptureRequest, Response as CaptureResponse } from "../gen/capture/capture_pb.js";
import type { Request as MaterializeRequest, Response as MaterializeResponse } from "../gen/materialize/materialize_pb.js";
import { runCaptureSession } from "./capture.js";
import { runMaterializeSession } from "./materialize.js";
import type { RequestStream } from "./reader.js";

export type AnyRequest = CaptureRequest | MaterializeRequest;
export type AnyResponse = CaptureResponse | MaterializeResponse;

export interface SessionOptions {
  log: Logger;
  /** Aborted by the transport to stop the session early (e.g. SIGTERM, client cancel). */
  signal?: AbortSignal;
}

/**
 * Serves one stream until the request side ends and all work is done.
 * Rejects with a ConnectorError or ProtocolError (or any connector failure);
 * the transport reports it (stderr + exit code, or gRPC status).
 */
export function runSession(
  connector: Connector,
  requests: RequestStream<AnyRequest>,
  sink: ResponseSink<AnyResponse>,
  opts: SessionOptions,
): Promise<void> {
  if (connector.protocol === "capture") {
    return runCaptureSession(connector, requests as RequestStream<CaptureRequest>, sink as ResponseSink<CaptureResponse>, opts);
  }
  return runMaterializeSession(connector, requests as RequestStream<MaterializeRequest>, sink as ResponseSink<MaterializeResponse>, opts);
}
