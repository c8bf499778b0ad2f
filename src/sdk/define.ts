/**
 * Identity helpers that let TypeScript infer a connector's config and
 * resource types from its handlers, and check the object's shape where it is
 * written rather than where it is exported.
 */
import type { CaptureConnector, MaterializeConnector } from "./types.js";

export function defineCapture<C, R>(connector: CaptureConnector<C, R>): CaptureConnector<C, R> {
  return connector;
}

export function defineMaterialization<C, R>(connector: MaterializeConnector<C, R>): MaterializeConnector<C, R> {
  return connector;
}
