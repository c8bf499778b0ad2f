/**
 * source-hello-world: the smallest complete capture built with Tributary.
 *
 * Each binding emits greetings {"count": n, "message": "Hello #n"} at a
 * configurable rate and checkpoints its count, so a restarted session
 * continues where the last committed checkpoint left off: no gap, no repeat.
 * Copy this file to start a new capture.
 */
import { setImmediate, setTimeout as sleep } from "node:timers/promises";
import type { CaptureBinding, CaptureConnector } from "../../src/sdk/types.js";
import { bindingState, bindingStateUpdate } from "../../src/sdk/binding-state.js";

interface Config {
  /** Greetings per second for each binding; 0 means as fast as possible. */
  rate: number;
  /** Greetings emitted between two checkpoints. */
  perCheckpoint: number;
}

interface Resource {
  name: string;
}

/** Each binding's entry in connector state: its last committed count. */
interface Progress {
  count: number;
}

// Each binding keeps its own entry in the state, under its state key (older
// runtimes name none: then the resource's name stands in).
const stateKey = (b: CaptureBinding<Resource>) => b.stateKey || b.resourceConfig.name;

const connector: CaptureConnector<Config, Resource> = {
  protocol: "capture",
  name: "source-hello-world",
  documentationUrl: "https://github.com/tributary-dev/tributary/tree/main/connectors/source-hello-world",
  configSchema: {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "Hello World",
    type: "object",
    properties: {
      rate: {
        title: "Rate",
        description: "Greetings per second, per binding. 0 emits as fast as possible.",
        type: "number",
        minimum: 0,
        default: 1,
        order: 0,
      },
      perCheckpoint: {
        title: "Greetings per checkpoint",
        description: "How many greetings are committed together.",
        type: "integer",
        minimum: 1,
        default: 1,
        order: 1,
      },
    },
    additionalProperties: false,
  },
  resourceConfigSchema: {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "Greeting stream",
    type: "object",
    properties: {
      name: { title: "Name", description: "Name of the greeting stream.", type: "string", minLength: 1 },
    },
    required: ["name"],
    additionalProperties: false,
  },
  resourcePathPointers: ["/name"],

  async discover() {
    return [
      {
        recommendedName: "greetings",
        resourceConfig: { name: "greetings" },
        key: ["/count"],
        documentSchema: {
          type: "object",
          properties: {
            count: { type: "integer", description: "Sequence number of the greeting, from 1." },
            message: { type: "string" },
          },
          required: ["count", "message"],
        },
      },
    ];
  },

  async apply({ bindings }) {
    return { actionDescription: bindings.length ? "" : "no bindings: nothing will be captured" };
  },

  async open({ config, bindings, state }, out, { signal }) {
    const counts = bindings.map((b) => bindingState<Progress>(state, stateKey(b))?.count ?? 0);
    await out.opened();

    const pause = config.rate > 0 ? 1000 / config.rate : 0;
    while (!signal.aborted) {
      const progress: [string, Progress][] = [];
      for (const [i, b] of bindings.entries()) {
        for (let k = 0; k < config.perCheckpoint; k++) {
          const count = ++counts[i]!;
          await out.document(i, { count, message: `Hello #${count}` });
        }
        progress.push([stateKey(b), { count: counts[i]! }]);
      }
      await out.checkpoint(bindingStateUpdate(progress));
      // Pause between batches (the session's end aborts the pause); at full
      // speed, still yield so the end of the session is noticed.
      if (pause > 0) await sleep(pause * config.perCheckpoint, undefined, { signal }).catch(() => {});
      else await setImmediate();
    }
  },
};

export default connector;
