/**
 * The connector gRPC services, described by hand for grpc-js.
 *
 * grpc-js only needs a path, the streaming shape and (de)serializers per
 * method, so the generated protobuf-es schemas do the encoding and no
 * .proto files are loaded at run time. Requests are handed over as raw
 * bytes and decoded by the transport, so that a malformed message becomes a
 * clear INVALID_ARGUMENT naming the message rather than grpc-js's generic
 * deserialization failure.
 */
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { GenFile } from "@bufbuild/protobuf/codegenv2";
import * as capture from "../gen/capture/capture_pb.js";
import * as materialize from "../gen/materialize/materialize_pb.js";
import { messageCodec, type MessageCodec } from "../codec/wire.js";

/** gRPC always carries binary protobuf; the shared codec has fast paths for documents. */
function protoCodec<Desc extends DescMessage>(schema: Desc): MessageCodec<MessageShape<Desc>> {
  return messageCodec(schema, "proto");
}

/** Everything the server needs to know about one connector protocol's service. */
export interface ConnectorService {
  /** Fully-qualified service name, e.g. "capture.Connector". */
  name: string;
  /** The method's name within the service (grpc-js implementation key). */
  method: string;
  definition: ServiceDefinition;
  /**
   * The definition the server registers: responses pass through as bytes
   * already encoded by encodeResponse, so the transport knows each one's
   * size (for its send budget) and grpc-js does no per-message callback.
   */
  serverDefinition: ServiceDefinition;
  /** Encodes one response message. */
  encodeResponse(msg: unknown): Buffer;
  /** Decodes one request message (bytes as received). */
  decodeRequest(bytes: Uint8Array): unknown;
  /** The generated file describing the service, for reflection. */
  file: GenFile;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function bidiService<Req extends DescMessage, Res extends DescMessage>(
  name: string,
  method: string,
  file: GenFile,
  request: Req,
  response: Res,
): ConnectorService {
  const req = protoCodec(request);
  const res = protoCodec(response);
  const identity = (b: Buffer) => b;
  // Both directions are declared so the same definition also builds clients
  // (tests and tools); the server side decodes requests itself.
  const def: MethodDefinition<MessageShape<Req>, MessageShape<Res>> = {
    path: `/${name}/${method}`,
    requestStream: true,
    responseStream: true,
    requestSerialize: (msg) => toBuffer(req.encode(msg)),
    requestDeserialize: identity as unknown as (b: Buffer) => MessageShape<Req>,
    responseSerialize: (msg) => toBuffer(res.encode(msg)),
    responseDeserialize: (b) => res.decode(b),
    originalName: method.charAt(0).toLowerCase() + method.slice(1),
  };
  const encodeResponse = (msg: unknown) => toBuffer(res.encode(msg as MessageShape<Res>));
  return {
    name,
    method,
    definition: { [method]: def },
    serverDefinition: { [method]: { ...def, responseSerialize: identity } },
    encodeResponse,
    decodeRequest: (bytes) => req.decode(bytes),
    file,
  };
}

export const captureService: ConnectorService = bidiService(
  "capture.Connector",
  "Capture",
  capture.file_capture_capture,
  capture.RequestSchema,
  capture.ResponseSchema,
);

export const materializeService: ConnectorService = bidiService(
  "materialize.Connector",
  "Materialize",
  materialize.file_materialize_materialize,
  materialize.RequestSchema,
  materialize.ResponseSchema,
);

export function serviceFor(protocol: "capture" | "materialize"): ConnectorService {
  return protocol === "capture" ? captureService : materializeService;
}
