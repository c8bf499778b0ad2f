/**
 * `tributary/sdk`: what a connector author writes against. Everything
 * exported here is the SDK's stable API; modules not re-exported here are
 * internal and may change between releases.
 */
export * from "./types.js";
export { ConnectorError, ProtocolError, describeError, networkCondition, type ErrorCondition } from "./errors.js";
export { mergePatch, applyStateUpdate } from "./state.js";
export { bindingState, bindingStateUpdate, dropStale, BINDING_STATE_PROPERTY } from "./binding-state.js";
export { valueAtPointer, resourcePathOf } from "./bindings.js";
export { atLeastOnceTransactor, labelAtLeastOnce, AT_LEAST_ONCE_DESCRIPTION, type AtLeastOnceOptions } from "./at-least-once.js";
export {
  stagedTransactor,
  drainPending,
  drainedDescription,
  pendingEntries,
  rangeEntry,
  PENDING,
  type ApplyInfo,
  type StagedHandlers,
  type StagedTransactorOptions,
} from "./staged.js";
export { createLogger, redactSecrets, type Logger, type LoggerOptions, type Level, type Fields } from "../log.js";
export { defineCapture, defineMaterialization } from "./define.js";
export { sendDocuments } from "./capture.js";
export { loadedBatch } from "./materialize.js";
export {
  Type,
  Secret,
  Multiline,
  StringEnum,
  Advanced,
  CollectionName,
  SchemaName,
  DeltaUpdates,
  OAuth2Credentials,
  Typed,
  Annotate,
  type Static,
  type TSchema,
  type FlowAnnotations,
} from "./schema.js";
export { encodeCheckpoint, decodeCheckpoint, type Checkpoint } from "./checkpoint.js";
export { resourceCapture, type Resource, type ResourceCapture, type Page, type Changes, type FetchContext } from "./resources.js";
export { TransientError, isTransient, type RetryOptions } from "./retry.js";
export {
  type SinkConnector,
  type SinkWriter,
  type SinkCapabilities,
  type SinkDelivery,
  type SinkOperation,
  type SinkBatch,
  type SinkCommit,
  type SinkOpen,
  type SinkValidateBinding,
  type Epoch,
} from "./sink.js";
export { epochSink } from "./sink-connector.js";
export { defaultConstraints } from "./sink-validate.js";
export { epochId, SINK_EPOCHS } from "./sink-epoch.js";
