/**
 * source-nats configuration: the shared NATS connection fields (src/nats),
 * whether a session stops at the end of the streams (bounded) or tails them,
 * how many messages go in one checkpoint, and the collection key offered by
 * discovery. A resource is a stream, optionally narrowed to a subject filter.
 */
import { natsConnectionProperties } from "../../src/nats/config-schema.js";
import { CollectionName, Type, type Static } from "../../src/sdk/schema.js";

export const DEFAULT_MESSAGES_PER_CHECKPOINT = 2000;
export const DEFAULT_IDLE_WAIT_MS = 500;

/** A collection-key choice: an object tagged by `type` (its `const`, also its default). */
const keyTag = <T extends string>(t: T) => Type.Literal(t, { default: t });

const documentKeys = [
  Type.Object({ type: keyTag("sequence") }, { title: "Stream sequence" }),
  Type.Object(
    {
      type: keyTag("header"),
      header: Type.String({ title: "Header name", description: "Every message must carry it (e.g. Nats-Msg-Id).", minLength: 1, pattern: "^[!-9;-~]+$" }),
    },
    { title: "Header" },
  ),
  Type.Object(
    {
      type: keyTag("pointer"),
      pointer: Type.String({
        title: "Pointer",
        description: "Location in the JSON payload, e.g. /id. Every payload must be a JSON object holding a string or integer there.",
        pattern: "^(/[^/]+)+$",
      }),
    },
    { title: "JSON pointer" },
  ),
] as const;

export type DocumentKey = Static<(typeof documentKeys)[number]>;

export const configSchema = Type.Object(
  {
    ...natsConnectionProperties,
    bounded: Type.Optional(
      Type.Boolean({
        title: "Stop at the end",
        description:
          "Read each stream up to its last message as of the session's start, then end the session (a batch read). By default the capture tails the streams for new messages.",
        default: false,
        order: 3,
      }),
    ),
    documentKey: Type.Optional(
      Type.Unsafe<DocumentKey>({
        title: "Collection key",
        description: "The key discovery gives each collection: the stream sequence (default), a message header, or a JSON pointer into the payload.",
        type: "object",
        discriminator: { propertyName: "type" },
        oneOf: [...documentKeys],
        default: { type: "sequence" },
        order: 4,
      }),
    ),
    advanced: Type.Optional(
      Type.Object(
        {
          /** Messages read per checkpoint at most. */
          messagesPerCheckpoint: Type.Optional(
            Type.Integer({
              title: "Messages per checkpoint",
              description: "The most messages read from one stream and committed in one checkpoint.",
              minimum: 1,
              maximum: 100000,
              default: DEFAULT_MESSAGES_PER_CHECKPOINT,
            }),
          ),
          /** How long an idle read waits for a first message, in ms. */
          idleWaitMs: Type.Optional(
            Type.Integer({
              title: "Idle wait (ms)",
              description: "How long a read of a stream with nothing new waits for a message before the next stream is read.",
              minimum: 10,
              maximum: 60000,
              default: DEFAULT_IDLE_WAIT_MS,
            }),
          ),
        },
        { title: "Advanced", advanced: true, order: 5, additionalProperties: false },
      ),
    ),
  },
  { $schema: "http://json-schema.org/draft-07/schema#", title: "NATS JetStream" },
);

export type Config = Static<typeof configSchema>;

export const resourceConfigSchema = Type.Object(
  {
    stream: CollectionName({ title: "Stream", description: "Name of the JetStream stream.", minLength: 1, pattern: "^[^\\s.*>/\\\\]+$" }),
    /** A subject filter within the stream (wildcards allowed); all of the stream when absent. */
    subject: Type.Optional(
      Type.String({
        title: "Subject filter",
        description: "Capture only the stream's messages on this subject (wildcards * and > allowed). All of the stream when empty.",
        pattern: "^[^\\s]*$",
      }),
    ),
  },
  { $schema: "http://json-schema.org/draft-07/schema#", title: "NATS stream", additionalProperties: false },
);

export type ResourceConfig = Static<typeof resourceConfigSchema>;

export const resourcePathPointers = ["/stream", "/subject"];
