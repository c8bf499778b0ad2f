/**
 * `tributary/sql`: building blocks of SQL materializations (table shapes,
 * field constraints, DDL plans, identifier quoting, checkpoint fencing).
 * A connector supplies a `Dialect` and reuses the rest. Everything exported
 * here is stable; other modules of src/sql are internal.
 */
export type { Dialect, MappedType, ExistingColumn, ExistingTable, ValueEncoding } from "./dialect.js";
export { isForbidden } from "./dialect.js";
export { buildTable, projectionOf, type Column, type Table, type TableSelection } from "./table.js";
export { flatType, exceedsInt64, isRootDocument, type FlatKind, type FlatType } from "./flat-type.js";
export { validateBinding, baseConstraint, isCompatible, type ValidateBindingInput } from "./validate.js";
export { planTable, type DdlRenderer, type ApplyTableInput } from "./apply-plan.js";
export { quoteIdentifier, quotePath, isSimpleIdentifier, foldIdentifier, foldFields } from "./identifiers.js";
export { splitJsonArray, jsonStringValue } from "./json-tuple.js";
export {
  CHECKPOINTS_TABLE,
  createCheckpointsTable,
  installFence,
  updateFence,
  type Querier,
  type Fence,
  type FenceRange,
} from "./fence.js";
