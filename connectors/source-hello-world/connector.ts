/**
 * source-hello-world: the smallest complete capture built with Tributary.
 *
 * Each binding is a resource emitting greetings {"count": n, "message":
 * "Hello #n"} at a configurable rate. The resource layer checkpoints each
 * batch with its cursor (the last count), so a restarted session continues
 * where the last committed checkpoint left off: no gap, no repeat.
 * Copy this file to start a new capture.
 */
import { resourceCapture } from "../../src/sdk/resources.js";
import { Type, type Static } from "../../src/sdk/schema.js";

const configSchema = Type.Object(
  {
    /** Greetings per second for each binding; 0 means as fast as possible. */
    rate: Type.Optional(Type.Number({ title: "Rate", description: "Greetings per second, per binding. 0 emits as fast as possible.", minimum: 0, default: 1, order: 0 })),
    /** Greetings emitted between two checkpoints. */
    perCheckpoint: Type.Optional(
      Type.Integer({ title: "Greetings per checkpoint", description: "How many greetings are committed together.", minimum: 1, default: 1, order: 1 }),
    ),
  },
  { $schema: "http://json-schema.org/draft-07/schema#", title: "Hello World", additionalProperties: false },
);

const resourceConfigSchema = Type.Object(
  { name: Type.String({ title: "Name", description: "Name of the greeting stream.", minLength: 1 }) },
  { $schema: "http://json-schema.org/draft-07/schema#", title: "Greeting stream", additionalProperties: false },
);

/** The endpoint config as handlers see it: the SDK fills in the schema's defaults. */
type Config = Required<Static<typeof configSchema>>;
type Resource = Static<typeof resourceConfigSchema>;

/** The changes cursor, kept as each binding's state entry: its last committed count. */
interface Progress {
  count: number;
}

const greetings = (name: string, config: Config) => ({
  name,
  key: ["/count"],
  schema: {
    type: "object",
    properties: {
      count: { type: "integer", description: "Sequence number of the greeting, from 1." },
      message: { type: "string" },
    },
    required: ["count", "message"],
  },
  initialCursor: (): Progress => ({ count: 0 }),
  async fetchChanges({ count }: Progress) {
    const docs = Array.from({ length: config.perCheckpoint }, (_, k) => ({ count: count + k + 1, message: `Hello #${count + k + 1}` }));
    return { docs, cursor: { count: count + docs.length }, caughtUp: true };
  },
  intervalMs: config.rate > 0 ? (1000 * config.perCheckpoint) / config.rate : 0,
});

export default resourceCapture<Config, Resource>({
  name: "source-hello-world",
  documentationUrl: "https://github.com/tributary-dev/tributary/tree/main/connectors/source-hello-world",
  configSchema,
  resourceConfigSchema,
  // Discovery offers one stream; a session greets every bound name.
  resources: (config, _ctx, bindings) => (bindings?.map((b) => b.resourceConfig.name) ?? ["greetings"]).map((n) => greetings(n, config)),
  async apply({ bindings }) {
    return { actionDescription: bindings.length ? "" : "no bindings: nothing will be captured" };
  },
});
