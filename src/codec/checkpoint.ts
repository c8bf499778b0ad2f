/**
 * The "explicit zero" runtime checkpoint a materialization returns in
 * Response.Opened when its destination holds no checkpoint: start from
 * scratch rather than resume from the runtime's recovery log.
 *
 * On the wire it is a consumer.Checkpoint carrying only unknown field
 * 536870911 (2^29 - 1) as varint 1, i.e. bytes `f8 ff ff ff 0f 01`. It is an
 * unknown field, so it survives the protobuf codec only; Flow JSON cannot
 * carry it and renders the checkpoint as `{}`.
 */
import { create } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import { CheckpointSchema, type Checkpoint } from "../gen/consumer/protocol/protocol_pb.js";

/** The field number of the sentinel: the largest valid protobuf field number. */
export const ZERO_CHECKPOINT_FIELD = 536870911;

/** A fresh explicit-zero checkpoint (callers may mutate it safely). */
export function zeroCheckpoint(): Checkpoint {
  const cp = create(CheckpointSchema);
  cp.$unknown = [{ no: ZERO_CHECKPOINT_FIELD, wireType: WireType.Varint, data: Uint8Array.of(1) }];
  return cp;
}

/** True for a present checkpoint with no sources and no ack intents. */
export function isZeroCheckpoint(cp: Checkpoint | undefined): boolean {
  if (cp === undefined) return false;
  for (const _ in cp.sources) return false;
  for (const _ in cp.ackIntents) return false;
  return true;
}
