/**
 * Runs materialize-postgres over stdio without going through the connector
 * registry: `node dist/connectors/materialize-postgres/main.js`. Same as
 * `tributary run materialize-postgres`.
 */
import { runStdio } from "../../src/transport/stdio.js";
import connector from "./connector.js";

process.exit(await runStdio(connector));
