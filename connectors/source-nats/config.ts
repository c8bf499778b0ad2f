/**
 * source-nats configuration: the shared NATS connection fields (src/nats),
 * whether a session stops at the end of the streams (bounded) or tails them,
 * how many messages go in one checkpoint, and the collection key offered by
 * discovery. A resource is a stream, optionally narrowed to a subject filter.
 */
import { natsConnectionProperties, type NatsEndpoint } from "../../src/nats/config-schema.js";

export type DocumentKey = { type: "sequence" } | { type: "header"; header: string } | { type: "pointer"; pointer: string };

export interface Config extends NatsEndpoint {
  bounded?: boolean;
  documentKey?: DocumentKey;
  advanced?: {
    /** Messages read per checkpoint at most. */
    messagesPerCheckpoint?: number;
    /** How long an idle read waits for a first message, in ms. */
    idleWaitMs?: number;
  };
}

export interface ResourceConfig {
  stream: string;
  /** A subject filter within the stream (wildcards allowed); all of the stream when absent. */
  subject?: string;
}

export const DEFAULT_MESSAGES_PER_CHECKPOINT = 2000;
export const DEFAULT_IDLE_WAIT_MS = 500;

export const configSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "NATS JetStream",
  type: "object",
  properties: {
    ...natsConnectionProperties,
    bounded: {
      title: "Stop at the end",
      description:
        "Read each stream up to its last message as of the session's start, then end the session (a batch read). By default the capture tails the streams for new messages.",
      type: "boolean",
      default: false,
      order: 3,
    },
    documentKey: {
      title: "Collection key",
      description: "The key discovery gives each collection: the stream sequence (default), a message header, or a JSON pointer into the payload.",
      type: "object",
      discriminator: { propertyName: "type" },
      oneOf: [
        { title: "Stream sequence", type: "object", properties: { type: { type: "string", const: "sequence", default: "sequence" } }, required: ["type"] },
        {
          title: "Header",
          type: "object",
          properties: {
            type: { type: "string", const: "header", default: "header" },
            header: { title: "Header name", description: "Every message must carry it (e.g. Nats-Msg-Id).", type: "string", minLength: 1, pattern: "^[!-9;-~]+$" },
          },
          required: ["type", "header"],
        },
        {
          title: "JSON pointer",
          type: "object",
          properties: {
            type: { type: "string", const: "pointer", default: "pointer" },
            pointer: { title: "Pointer", description: "Location in the JSON payload, e.g. /id. Every payload must be a JSON object holding a string or integer there.", type: "string", pattern: "^(/[^/]+)+$" },
          },
          required: ["type", "pointer"],
        },
      ],
      default: { type: "sequence" },
      order: 4,
    },
    advanced: {
      title: "Advanced",
      type: "object",
      advanced: true,
      order: 5,
      properties: {
        messagesPerCheckpoint: {
          title: "Messages per checkpoint",
          description: "The most messages read from one stream and committed in one checkpoint.",
          type: "integer",
          minimum: 1,
          maximum: 100000,
          default: DEFAULT_MESSAGES_PER_CHECKPOINT,
        },
        idleWaitMs: {
          title: "Idle wait (ms)",
          description: "How long a read of a stream with nothing new waits for a message before the next stream is read.",
          type: "integer",
          minimum: 10,
          maximum: 60000,
          default: DEFAULT_IDLE_WAIT_MS,
        },
      },
      additionalProperties: false,
    },
  },
  required: ["servers"],
};

export const resourceConfigSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "NATS stream",
  type: "object",
  properties: {
    stream: { title: "Stream", description: "Name of the JetStream stream.", type: "string", minLength: 1, pattern: "^[^\\s.*>/\\\\]+$", "x-collection-name": true },
    subject: {
      title: "Subject filter",
      description: "Capture only the stream's messages on this subject (wildcards * and > allowed). All of the stream when empty.",
      type: "string",
      pattern: "^[^\\s]*$",
    },
  },
  required: ["stream"],
  additionalProperties: false,
};

export const resourcePathPointers = ["/stream", "/subject"];
