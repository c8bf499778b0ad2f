/**
 * The gRPC ceiling for transport-grpc: a bare grpc-js server answering the
 * capture method with the same pre-encoded Captured message, over and over,
 * as fast as the stream takes them. No connector, no codec, no SDK.
 * Prints `listening on 127.0.0.1:<port>` once it accepts connections.
 */
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { ResponseSchema } from "../../src/gen/capture/capture_pb.js";
import { messageCodec } from "../../src/codec/wire.js";

/** The Captured message hello-world sends, as the capture service encodes it. */
function capturedMessage(): Buffer {
  const res = create(ResponseSchema, { captured: { binding: 0, docJson: '{"count":1234567,"message":"Hello #1234567"}' } });
  return Buffer.from(messageCodec(ResponseSchema, "proto").encode(res));
}

const identity = (b: Buffer) => b;
const definition: grpc.ServiceDefinition = {
  Capture: {
    path: "/capture.Connector/Capture",
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

const message = capturedMessage();
const server = new grpc.Server({ "grpc.max_send_message_length": -1 });
server.addService(definition, {
  Capture: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
    let stopped = false;
    call.on("cancelled", () => (stopped = true));
    call.on("error", () => (stopped = true));
    const go = () => {
      while (!stopped) {
        if (!call.write(message)) return void call.once("drain", go);
      }
    };
    // Like a connector, answer once the client's first request (Open) came.
    call.once("data", go);
  },
});
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`listening on 127.0.0.1:${port}\n`);
});
