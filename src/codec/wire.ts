/**
 * Message codecs for the two wire encodings Flow's runtime speaks to a
 * connector: protobuf, or Flow JSON (selected by FLOW_RUNTIME_CODEC=json).
 *
 * The generic paths use protobuf-es for binary and flow-json.ts for JSON.
 * Per-document messages (capture Captured and materialize Loaded responses,
 * materialize Store and Load requests) get hand-written fast paths, for
 * encoding and decoding in both wires, that produce exactly what the generic
 * paths would; anything they do not recognise falls through to the generic
 * path (see fast-encode.ts and fast-decode.ts).
 */
import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { fromFlowJson, toFlowJson } from "./flow-json.js";
import { docFramer, fastEncoder, fastFramer, type DocFramer } from "./fast-encode.js";
import type { FrameWriter } from "./frames.js";
import { fastJsonDecoder, fastProtoDecoder } from "./fast-decode.js";

export type WireCodec = "proto" | "json";

/** FLOW_RUNTIME_CODEC=json selects JSON; anything else (or nothing) means protobuf. */
export function wireCodecFromEnv(env: NodeJS.ProcessEnv = process.env): WireCodec {
  return env.FLOW_RUNTIME_CODEC === "json" ? "json" : "proto";
}

/** Encodes and decodes one message payload (no framing; JSON is UTF-8 text without a newline). */
export interface MessageCodec<M> {
  encode(msg: M): Uint8Array;
  decode(payload: Uint8Array): M;
}

/** A codec that can also encode straight into a batch of frames. */
export interface FramingCodec<M> extends MessageCodec<M> {
  /** Appends `msg` to `frames` as one frame: `frames.append(encode(msg))`, without the intermediate buffer where it can. */
  encodeFramed(msg: M, frames: FrameWriter): void;
  /**
   * For capture.Response and materialize.Response: frames the document
   * response { binding, docJson } without a message object, exactly as
   * encodeFramed would; false (nothing written) when that takes the generic path.
   */
  frameDoc?: DocFramer;
}

export function messageCodec<D extends DescMessage>(schema: D, wire: WireCodec): FramingCodec<MessageShape<D>> {
  const generic = wire === "proto" ? protoCodec(schema) : jsonCodec(schema);
  const encodeFast = fastEncoder(schema, wire);
  const decodeFast = wire === "json" ? fastJsonDecoder(schema) : fastProtoDecoder(schema);
  const frameFast = fastFramer(schema, wire);
  const encode: (msg: MessageShape<D>) => Uint8Array = encodeFast
    ? (msg) => encodeFast(msg as unknown as Record<string, unknown>) ?? generic.encode(msg)
    : generic.encode;
  return {
    encode,
    decode: decodeFast
      ? (payload) => (decodeFast(payload) as MessageShape<D> | undefined) ?? generic.decode(payload)
      : generic.decode,
    encodeFramed: frameFast
      ? (msg, frames) => {
          if (!frameFast(msg as unknown as Record<string, unknown>, frames)) frames.append(encode(msg));
        }
      : (msg, frames) => frames.append(encode(msg)),
    frameDoc: docFramer(schema, wire),
  };
}

function protoCodec<D extends DescMessage>(schema: D): MessageCodec<MessageShape<D>> {
  return {
    encode: (msg) => toBinary(schema, msg),
    decode: (payload) => {
      try {
        return fromBinary(schema, payload);
      } catch (err) {
        throw new Error(`cannot decode ${schema.typeName} from protobuf: ${(err as Error).message}`);
      }
    },
  };
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function jsonCodec<D extends DescMessage>(schema: D): MessageCodec<MessageShape<D>> {
  return {
    encode: (msg) => toUtf8(toFlowJson(schema, msg)),
    decode: (payload) => {
      let text: string;
      try {
        text = strictUtf8.decode(payload);
      } catch {
        throw new Error(`${schema.typeName}: JSON payload is not valid UTF-8`);
      }
      return fromFlowJson(schema, text);
    },
  };
}

/** Buffers, not fresh Uint8Arrays: small ones come from Node's pool, which is much cheaper. */
function toUtf8(text: string): Uint8Array {
  return Buffer.from(text, "utf8");
}

