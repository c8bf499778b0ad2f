/**
 * Every generated message type, by full protobuf name (`capture.Request`,
 * `flow.CaptureSpec`, `consumer.Checkpoint`, ...), for tools that pick a type
 * at run time such as `tributary convert` and the conformance tests.
 */
import { createRegistry, type DescMessage } from "@bufbuild/protobuf";
import { file_google_protobuf_duration, file_google_protobuf_timestamp } from "@bufbuild/protobuf/wkt";
import { file_broker_protocol_protocol } from "../gen/broker/protocol/protocol_pb.js";
import { file_capture_capture } from "../gen/capture/capture_pb.js";
import { file_consumer_protocol_protocol } from "../gen/consumer/protocol/protocol_pb.js";
import { file_flow_flow } from "../gen/flow/flow_pb.js";
import { file_materialize_materialize } from "../gen/materialize/materialize_pb.js";

export const messageRegistry = createRegistry(
  file_capture_capture,
  file_materialize_materialize,
  file_flow_flow,
  file_consumer_protocol_protocol,
  file_broker_protocol_protocol,
  file_google_protobuf_timestamp,
  file_google_protobuf_duration,
);

let names: string[] | undefined;

/** All registered message names, sorted. */
export function messageTypeNames(): string[] {
  if (!names) {
    names = [];
    for (const t of messageRegistry) if (t.kind === "message") names.push(t.typeName);
    names.sort();
  }
  return names;
}

/** The message type named `name`, or undefined. */
export function findMessageType(name: string): DescMessage | undefined {
  return messageRegistry.getMessage(name);
}
