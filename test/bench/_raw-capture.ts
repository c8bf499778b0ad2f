/**
 * A capture for the transport-stdio benchmark whose documents are already
 * JSON text (RawJson), as a source that reads JSON from its database gets
 * them: what it measures is the codec path alone (SDK, fast encoder,
 * framing, buffered stdout), without a JSON.stringify per document.
 * Emits the ceiling's document forever, checkpointing every 1,000.
 */
import { resourceCapture } from "../../src/sdk/resources.js";
import { RawJson } from "../../src/sdk/types.js";
import { runStdio } from "../../src/transport/stdio.js";

const DOC = new RawJson('{"count":1234567,"message":"Hello #1234567"}');
const PAGE = Array.from({ length: 1000 }, () => DOC);

const capture = resourceCapture<Record<string, never>, { name: string }>({
  name: "bench-raw-capture",
  documentationUrl: "https://github.com/tributary-dev/tributary/tree/main/test/bench",
  configSchema: { type: "object" },
  resources: () => [
    {
      name: "greetings",
      key: ["/count"],
      schema: { type: "object" },
      initialCursor: () => 0,
      async fetchChanges(n: number) {
        return { docs: PAGE, cursor: n + PAGE.length, caughtUp: false };
      },
    },
  ],
});

process.exit(await runStdio(capture, { env: { FLOW_RUNTIME_CODEC: process.env.FLOW_RUNTIME_CODEC } }));
