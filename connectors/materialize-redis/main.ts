/**
 * Runs materialize-redis over stdio without going through the connector
 * registry: `node dist/connectors/materialize-redis/main.js`.
 */
import { runStdio } from "../../src/transport/stdio.js";
import connector from "./connector.js";

process.exit(await runStdio(connector));
