/**
 * The harness's view of the wire: message codecs and framing come from
 * src/codec; this module only pairs them for one request/response protocol.
 */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { messageCodec, type WireCodec } from "../codec/wire.js";
import { FrameDecoder, FrameWriter } from "../codec/frames.js";

export type { WireCodec };

export interface ProtocolWire<Req, Res> {
  codec: WireCodec;
  /** Framed requests, ready to write to the connector's stdin as one chunk. */
  frame(reqs: Req[]): Buffer;
  newDecoder(): { push(chunk: Uint8Array): Uint8Array[]; finish(): void };
  decode(payload: Uint8Array): Res;
}

export function protocolWire<RQ extends DescMessage, RS extends DescMessage>(
  request: RQ,
  response: RS,
  codec: WireCodec,
): ProtocolWire<MessageShape<RQ>, MessageShape<RS>> {
  const req = messageCodec(request, codec);
  const res = messageCodec(response, codec);
  const writer = new FrameWriter(codec);
  return {
    codec,
    frame(msgs) {
      for (const m of msgs) writer.append(req.encode(m));
      return writer.take();
    },
    newDecoder: () => new FrameDecoder(codec),
    decode: (payload) => res.decode(payload),
  };
}
