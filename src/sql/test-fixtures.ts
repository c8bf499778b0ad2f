/**
 * Compact builders for collection specs used by SQL toolkit and connector
 * tests: a projection is described by its field, pointer and inference.
 */
import { create } from "@bufbuild/protobuf";
import {
  CollectionSpecSchema,
  Inference_Exists,
  MaterializationSpec_BindingSchema,
  type CollectionSpec,
  type MaterializationSpec_Binding,
} from "../gen/flow/flow_pb.js";

export interface ProjectionDesc {
  field: string;
  ptr?: string;
  types: string[];
  format?: string;
  contentEncoding?: string;
  must?: boolean;
  key?: boolean;
  maximum?: number;
  minimum?: number;
  title?: string;
  description?: string;
}

export function collection(name: string, projections: ProjectionDesc[]): CollectionSpec {
  const keys = projections.filter((p) => p.key).map((p) => p.ptr ?? "/" + p.field);
  return create(CollectionSpecSchema, {
    name,
    key: keys,
    projections: projections.map((p) => ({
      field: p.field,
      ptr: p.ptr ?? "/" + p.field,
      isPrimaryKey: p.key ?? false,
      inference: {
        types: p.types,
        exists: p.must || p.key ? Inference_Exists.MUST : Inference_Exists.MAY,
        title: p.title ?? "",
        description: p.description ?? "",
        string: p.format || p.contentEncoding ? { format: p.format ?? "", contentEncoding: p.contentEncoding ?? "" } : undefined,
        numeric:
          p.maximum !== undefined || p.minimum !== undefined
            ? {
                ...(p.maximum !== undefined ? { hasMaximum: true, maximum: p.maximum } : {}),
                ...(p.minimum !== undefined ? { hasMinimum: true, minimum: p.minimum } : {}),
              }
            : undefined,
      },
    })),
  });
}

/** The root-document projection every collection has. */
export const ROOT: ProjectionDesc = { field: "flow_document", ptr: "", types: ["object"], must: true };

export function specBinding(opts: {
  path: string[];
  collection: CollectionSpec;
  keys: string[];
  values: string[];
  document: string;
  delta?: boolean;
  backfill?: number;
}): MaterializationSpec_Binding {
  return create(MaterializationSpec_BindingSchema, {
    resourcePath: opts.path,
    collection: opts.collection,
    fieldSelection: { keys: opts.keys, values: opts.values, document: opts.document },
    deltaUpdates: opts.delta ?? false,
    backfill: opts.backfill ?? 0,
  });
}
