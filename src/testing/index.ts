/**
 * `tributary/testing`: drive a connector from tests the way Flow's runtime
 * does — captures over restarted sessions, materializations with crash
 * points, zombie fencing and several shards — over real stdio pipes or gRPC.
 * This is the programmatic form of `tributary preview`.
 */
export * from "../harness/index.js";
export { connectorCommand } from "./command.js";
