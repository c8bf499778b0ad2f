/**
 * `tributary`: the SDK (see `tributary/sdk`) plus ways to serve a connector
 * from your own program instead of the `tributary` command.
 */
export * from "./sdk/index.js";
export { runStdio, type StdioOptions } from "./transport/stdio.js";
export { serveGrpc, type GrpcServeOptions, type GrpcServer } from "./transport/grpc.js";
export { loadConnector, connectorNames } from "../connectors/registry.js";
