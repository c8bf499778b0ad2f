/**
 * Identity helpers that let TypeScript infer a connector's config and
 * resource types, and check the object's shape where it is written rather
 * than where it is exported.
 *
 * With TypeBox schemas (`tributary/sdk`'s `Type`), the types come from the
 * schemas themselves: `config` is `Static<typeof configSchema>` in every
 * handler, with no interface to keep in step. With plain JSON schemas, name
 * the types (`defineCapture<Config, Resource>({...})`) or annotate handlers.
 */
import type { Static, TSchema } from "@sinclair/typebox";
import type { CaptureConnector, MaterializeConnector } from "./types.js";

/** A connector whose two schemas are TypeBox schemas, typed by them. */
type Schematized<K, CS, RS> = Omit<K, "configSchema" | "resourceConfigSchema"> & { configSchema: CS; resourceConfigSchema: RS };

export function defineCapture<CS extends TSchema, RS extends TSchema>(
  connector: Schematized<CaptureConnector<Static<CS>, Static<RS>>, CS, RS>,
): CaptureConnector<Static<CS>, Static<RS>>;
export function defineCapture<C, R>(connector: CaptureConnector<C, R>): CaptureConnector<C, R>;
export function defineCapture(connector: CaptureConnector): CaptureConnector {
  return connector;
}

export function defineMaterialization<CS extends TSchema, RS extends TSchema>(
  connector: Schematized<MaterializeConnector<Static<CS>, Static<RS>>, CS, RS>,
): MaterializeConnector<Static<CS>, Static<RS>>;
export function defineMaterialization<C, R>(connector: MaterializeConnector<C, R>): MaterializeConnector<C, R>;
export function defineMaterialization(connector: MaterializeConnector): MaterializeConnector {
  return connector;
}
