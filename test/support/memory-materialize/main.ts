// Entry point of the memory materialization: one protocol session on stdio.
import { runStdio } from "../../../src/transport/stdio.js";
import connector from "./connector.js";

process.exit(await runStdio(connector));
