/**
 * Runs materialize-mysql over stdio without going through the connector
 * registry: `node dist/connectors/materialize-mysql/main.js`. Same as
 * `tributary run materialize-mysql`.
 */
import { runStdio } from "../../src/transport/stdio.js";
import connector from "./connector.js";

process.exit(await runStdio(connector));
