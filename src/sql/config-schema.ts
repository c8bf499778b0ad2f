/**
 * JSON-schema fragments that SQL materializations advertise alike (the
 * fields of Estuary's SQL connectors' endpoint and resource configs): user,
 * password, hard delete, the advanced-options group, and the resource's
 * table and delta-updates fields. Engine-specific fields stay with each
 * connector.
 */

export const userProperty = { type: "string", title: "User", description: "Database user to connect as.", order: 1 };

export const passwordProperty = { type: "string", title: "Password", description: "Password for the specified database user.", secret: true, order: 2 };

export function hardDeleteProperty(order: number) {
  return {
    type: "boolean",
    title: "Hard Delete",
    description: "If enabled, items deleted in the source will also be deleted from the destination. By default a deleted item is kept with _meta/op set to 'd' (soft delete).",
    default: false,
    order,
  };
}

/** The collapsed "Advanced Options" group holding `properties`. */
export function advancedOptions<P extends Record<string, unknown>>(properties: P) {
  return {
    type: "object",
    title: "Advanced Options",
    description: "Options for advanced users. You should not typically need to modify these.",
    advanced: true,
    properties,
  };
}

export const tableProperty = { type: "string", title: "Table", description: "Name of the database table.", "x-collection-name": true };

export const deltaUpdatesProperty = {
  type: "boolean",
  title: "Delta Update",
  description: "Should updates to this table be done via delta updates.",
  default: false,
  "x-delta-updates": true,
};
