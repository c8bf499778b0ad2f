/**
 * Runtime checkpoints as text, for destination-authoritative
 * materializations that store the checkpoint next to the data they commit
 * and hand it back from Open.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { CheckpointSchema, type Checkpoint } from "../gen/consumer/protocol/protocol_pb.js";

export type { Checkpoint };

/** The checkpoint's protobuf encoding, in base64. */
export function encodeCheckpoint(cp: Checkpoint): string {
  return Buffer.from(toBinary(CheckpointSchema, cp)).toString("base64");
}

/** Decodes what encodeCheckpoint returned. */
export function decodeCheckpoint(text: string): Checkpoint {
  return fromBinary(CheckpointSchema, Buffer.from(text, "base64"));
}
