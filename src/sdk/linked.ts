/**
 * Hides the two forms in which a runtime names a binding's collection.
 *
 * Direct (older runtimes): each binding carries its `collection`.
 * Indirect (newest runtimes): the request or spec carries
 * `linked_collections` once, and each binding only a `collection_index`
 * into it. Connectors always see a binding's resolved collection.
 */
import type { CaptureSpec, CollectionSpec, MaterializationSpec } from "../gen/flow/flow_pb.js";
import { ConnectorError } from "./errors.js";

interface Linkable {
  collection?: CollectionSpec;
  collectionIndex: number;
}

/**
 * The collection of a binding: its own when it has one (direct form), else
 * the linked collection its index names. `where` names the binding in errors,
 * e.g. "binding 2 of materialize.Request.Validate".
 */
export function resolveCollection(binding: Linkable, linked: readonly CollectionSpec[], where: string): CollectionSpec {
  if (binding.collection) return binding.collection;
  if (linked.length === 0) {
    throw new ConnectorError(`${where} has no collection, and the request has no linked_collections for its collection_index`);
  }
  const c = linked[binding.collectionIndex];
  if (!c) {
    throw new ConnectorError(
      `${where} has collection_index ${binding.collectionIndex}, but there are only ${linked.length} linked_collections`,
    );
  }
  return c;
}

function resolveBindings<B extends Linkable>(bindings: B[], linked: readonly CollectionSpec[], where: string): B[] {
  if (linked.length === 0 || bindings.every((b) => b.collection)) return bindings;
  return bindings.map((b, i) => (b.collection ? b : { ...b, collection: resolveCollection(b, linked, `binding ${i} of ${where}`) }));
}

/** The spec with every binding (active and inactive) carrying its collection. */
export function resolveCaptureSpec(spec: CaptureSpec): CaptureSpec;
export function resolveCaptureSpec(spec: CaptureSpec | undefined): CaptureSpec | undefined;
export function resolveCaptureSpec(spec: CaptureSpec | undefined): CaptureSpec | undefined {
  if (!spec || spec.linkedCollections.length === 0) return spec;
  const where = `capture ${spec.name}`;
  return {
    ...spec,
    bindings: resolveBindings(spec.bindings, spec.linkedCollections, where),
    inactiveBindings: resolveBindings(spec.inactiveBindings, spec.linkedCollections, `inactive bindings of ${where}`),
  };
}

/** The spec with every binding (active and inactive) carrying its collection. */
export function resolveMaterializationSpec(spec: MaterializationSpec): MaterializationSpec;
export function resolveMaterializationSpec(spec: MaterializationSpec | undefined): MaterializationSpec | undefined;
export function resolveMaterializationSpec(spec: MaterializationSpec | undefined): MaterializationSpec | undefined {
  if (!spec || spec.linkedCollections.length === 0) return spec;
  const where = `materialization ${spec.name}`;
  return {
    ...spec,
    bindings: resolveBindings(spec.bindings, spec.linkedCollections, where),
    inactiveBindings: resolveBindings(spec.inactiveBindings, spec.linkedCollections, `inactive bindings of ${where}`),
  };
}
