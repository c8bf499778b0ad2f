/**
 * The harness's programmatic API: what `tributary preview` does, for tests
 * and benchmarks of connectors. See SPECS.md for the rules it plays by.
 */
export { runCapturePreview, type CapturePreviewOptions, type CapturePreviewResult, type CaptureTransaction } from "./capture-runtime.js";
export {
  runMaterializePreview,
  type MaterializePreviewOptions,
  type MaterializePreviewResult,
  type MaterializePreviewStats,
  type ShardResult,
} from "./materialize-runtime.js";
export { loadCatalog, catalogFromObject, withGrpcAddress, repoRoot, type Catalog, type ConnectorEndpoint, type LoadOptions } from "./catalog.js";
export { buildCollection, type CollectionDef, type BuiltCollection } from "./collection-spec.js";
export { buildCapture, type BuiltCapture } from "./build-capture.js";
export { buildMaterialization, type BuiltMaterialization } from "./build-materialization.js";
export { selectFields, type FieldsDef } from "./field-selection.js";
export { encodeStateKey } from "./state-key.js";
export { CRASH_POINTS, parseCrashPoint, type CrashPoint, type CrashPointName } from "./faults.js";
export { HarnessError, ProtocolViolation, ConnectorFailed } from "./errors.js";
export { splitRanges, fullRange } from "./task-common.js";
export { keyHash } from "./key-hash.js";
export { packTuple } from "./tuple.js";
export type { WireCodec } from "./wire.js";
