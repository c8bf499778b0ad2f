/**
 * Runs materialize-webhook over stdio without going through the connector
 * registry: `node dist/connectors/materialize-webhook/main.js`. Same as
 * `tributary run materialize-webhook`.
 */
import { runStdio } from "../../src/transport/stdio.js";
import connector from "./connector.js";

process.exit(await runStdio(connector));
