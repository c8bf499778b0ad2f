/**
 * Schema fragments that SQL materializations advertise alike (the fields of
 * Estuary's SQL connectors' endpoint and resource configs): user, password,
 * hard delete, the advanced-options group, and the resource's table and
 * delta-updates fields. TypeBox schemas, so that a connector's config type
 * follows from its schema. Engine-specific fields stay with each connector.
 */
import { Advanced, CollectionName, DeltaUpdates, Secret, Type, type TSchema } from "../sdk/schema.js";

export const userProperty = Type.String({ title: "User", description: "Database user to connect as.", order: 1 });

export const passwordProperty = Secret({ title: "Password", description: "Password for the specified database user.", order: 2 });

export function hardDeleteProperty(order: number) {
  return Type.Boolean({
    title: "Hard Delete",
    description: "If enabled, items deleted in the source will also be deleted from the destination. By default a deleted item is kept with _meta/op set to 'd' (soft delete).",
    default: false,
    order,
  });
}

/** The collapsed "Advanced Options" group holding `properties`. */
export function advancedOptions<P extends Record<string, TSchema>>(properties: P, order?: number) {
  return Advanced(properties, {
    title: "Advanced Options",
    description: "Options for advanced users. You should not typically need to modify these.",
    ...(order === undefined ? {} : { order }),
  });
}

export const tableProperty = CollectionName({ title: "Table", description: "Name of the database table." });

export const deltaUpdatesProperty = DeltaUpdates({ title: "Delta Update", description: "Should updates to this table be done via delta updates." });
