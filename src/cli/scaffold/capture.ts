/**
 * The files of a new capture project: a connector that emits a fixed number
 * of events per stream, keeping each stream's progress under its state key.
 */
import type { ProjectFiles } from "./project.js";

export function captureFiles(name: string, collection: string): ProjectFiles {
  const connector = `/**
 * ${name}: emits events {id, stream, at} for each bound stream, up to
 * config.count, checkpointing every config.perCheckpoint events. A restarted
 * session resumes after the last committed checkpoint: no gap, no repeat.
 * Replace the event source with your own and keep the shape.
 */
import { CollectionName, Type, bindingState, bindingStateUpdate, defineCapture, dropStale } from "tributary/sdk";

// Each schema is written once: it is the JSON schema Flow's UI renders, and
// defineCapture types every handler's config and resourceConfig from it.
const Config = Type.Object(
  {
    count: Type.Integer({ title: "Events per stream", minimum: 0, default: 10, order: 0 }),
    perCheckpoint: Type.Integer({ title: "Events per checkpoint", minimum: 1, default: 2, order: 1 }),
  },
  { $schema: "http://json-schema.org/draft-07/schema#", title: ${JSON.stringify(name)}, additionalProperties: false },
);

const Resource = Type.Object(
  { stream: CollectionName({ title: "Stream", minLength: 1 }) },
  { $schema: "http://json-schema.org/draft-07/schema#", title: "Stream", additionalProperties: false },
);

/** What each binding keeps in connector state, under its stateKey. */
interface Progress {
  last: number;
}

export default defineCapture({
  protocol: "capture",
  name: ${JSON.stringify(name)},
  documentationUrl: "https://example.com/${name}",
  configSchema: Config,
  resourceConfigSchema: Resource,
  resourcePathPointers: ["/stream"],

  async discover() {
    return [
      {
        recommendedName: "events",
        resourceConfig: { stream: "events" },
        key: ["/stream", "/id"],
        documentSchema: {
          type: "object",
          properties: {
            id: { type: "integer", description: "Sequence number within the stream, from 1." },
            stream: { type: "string" },
            at: { type: "string", format: "date-time" },
          },
          required: ["id", "stream", "at"],
        },
      },
    ];
  },

  async apply({ bindings, state }) {
    // Forget the progress of streams no longer captured (or re-backfilled).
    const stale = dropStale(state, bindings);
    return { actionDescription: stale ? "dropped the progress of removed streams" : "", state: stale };
  },

  async open({ config, bindings, state }, out, { signal }) {
    const next = bindings.map((b) => (bindingState<Progress>(state, b)?.last ?? 0) + 1);
    await out.opened();
    for (const [i, b] of bindings.entries()) {
      while (next[i]! <= config.count && !signal.aborted) {
        const upTo = Math.min(config.count, next[i]! + config.perCheckpoint - 1);
        for (let id = next[i]!; id <= upTo; id++) {
          await out.document(i, { id, stream: b.resourceConfig.stream, at: new Date(Date.UTC(2024, 0, 1, 0, 0, id)).toISOString() });
        }
        await out.checkpoint(bindingStateUpdate([[b, { last: upTo } satisfies Progress]]));
        next[i] = upTo + 1;
      }
    }
    // Returning ends the session; Flow restarts the capture after its interval.
  },
});
`;

  const catalog = `# A catalog for \`tributary preview --source flow.yaml\` and the tests.
collections:
  ${collection}:
    schema:
      type: object
      properties:
        id: { type: integer }
        stream: { type: string }
        at: { type: string, format: date-time }
      required: [id, stream, at]
    key: [/stream, /id]
captures:
  acmeCo/${name}:
    endpoint:
      local:
        command: [tributary, run, ./dist/connector.js]
        config: { count: 10, perCheckpoint: 2 }
    bindings:
      - resource: { stream: events }
        target: ${collection}
`;

  const test = `import { describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { runCapturePreview } from "tributary/testing";

const catalog = fileURLToPath(new URL("../flow.yaml", import.meta.url));
const ids = (docs: [string, unknown][]) => docs.map(([, d]) => (d as { id: number }).id);

describe(${JSON.stringify(name)}, () => {
  it("captures every event once", async () => {
    const result = await runCapturePreview({ catalog, timeoutMs: 60_000 });
    expect(ids(result.documents)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // One entry per binding, under the binding's state key.
    expect(Object.values((result.state as { bindingStateV1: object }).bindingStateV1)).toEqual([{ last: 10 }]);
  });

  it("resumes from committed state when the connector restarts mid-run", async () => {
    // The first session is cut off after its first transaction; documents it
    // sent after that commit are discarded, as Flow's runtime would.
    const result = await runCapturePreview({ catalog, sessions: [1, -1], timeoutMs: 60_000 });
    expect(ids(result.documents)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
`;
  return { "src/connector.ts": connector, "flow.yaml": catalog, "test/connector.test.ts": test };
}
