/**
 * Config and resource schemas written once: TypeBox builds the JSON schema
 * Flow's UI renders, and `Static<typeof Schema>` is its TypeScript type, so
 * the two cannot drift apart. TypeBox schemas are plain JSON Schema objects
 * (its markers are symbol keys, which JSON and ajv ignore), so the SDK's
 * validation and secret redaction treat them like any hand-written schema.
 *
 * Flow's annotations are ordinary schema options (`Type.String({ secret:
 * true, order: 2 })`); `FlowAnnotations` names them for the editor, and the
 * helpers below cover the common shapes.
 */
import { Type, type Static, type TSchema, type TProperties, type TObject, type TString, type TBoolean, type ObjectOptions, type SchemaOptions, type StringOptions, type TUnsafe } from "@sinclair/typebox";

export { Type, type Static, type TSchema };

/** The schema keywords Flow's UI and control plane read, besides JSON Schema's own. */
export interface FlowAnnotations {
  /** Rendered as a password field; encrypted by flowctl; never logged by the SDK. */
  secret?: boolean;
  /** Collapsed by default in the UI. */
  advanced?: boolean;
  /** Position among its sibling properties in the UI. */
  order?: number;
  /** A text area rather than a one-line input (certificates, keys). */
  multiline?: boolean;
  /** In a materialization's resource schema: the control plane puts the collection's name here. */
  "x-collection-name"?: boolean;
  /** In a resource schema: the control plane may put a schema (namespace) name here. */
  "x-schema-name"?: boolean;
  /** In a materialization's resource schema: the control plane puts the binding's delta-updates flag here. */
  "x-delta-updates"?: boolean;
  /** On an object of OAuth credentials: the provider whose OAuth flow fills it in the UI. */
  "x-oauth2-provider"?: string;
}

type Annotated<O> = O & FlowAnnotations;

/** A string the UI hides and the SDK redacts from logs (`secret: true`). */
export function Secret(options: Annotated<StringOptions> = {}): TString {
  return Type.String({ ...options, secret: true });
}

/** A string shown as a text area (`multiline: true`), e.g. a PEM certificate. */
export function Multiline(options: Annotated<StringOptions> = {}): TString {
  return Type.String({ ...options, multiline: true });
}

/**
 * One of `values`, as `{type: "string", enum: [...]}` (how Flow's UI renders
 * a drop-down), typed as their union.
 */
export function StringEnum<const T extends readonly string[]>(values: T, options: Annotated<SchemaOptions> = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, type: "string", enum: [...values] });
}

/** A group of options the UI collapses (`advanced: true`). */
export function Advanced<P extends TProperties>(properties: P, options: Annotated<ObjectOptions> = {}): TObject<P> {
  return Type.Object(properties, { ...options, advanced: true });
}

/** The resource field that receives the bound collection's name (`x-collection-name`). */
export function CollectionName(options: Annotated<StringOptions> = {}): TString {
  return Type.String({ ...options, "x-collection-name": true });
}

/** The resource field that may receive a schema / namespace name (`x-schema-name`). */
export function SchemaName(options: Annotated<StringOptions> = {}): TString {
  return Type.String({ ...options, "x-schema-name": true });
}

/** The resource field that receives the binding's delta-updates flag (`x-delta-updates`), default false. */
export function DeltaUpdates(options: Annotated<SchemaOptions> = {}): TBoolean {
  return Type.Boolean({ default: false, ...options, "x-delta-updates": true });
}

/**
 * OAuth2 credentials filled by the UI's OAuth flow for `provider` (which
 * must match the `oauth2.provider` of the connector's Spec): client id,
 * client secret and refresh token, all secret.
 */
export function OAuth2Credentials(provider: string, options: Annotated<ObjectOptions> = {}) {
  return Type.Object(
    {
      client_id: Secret({ title: "Client ID" }),
      client_secret: Secret({ title: "Client Secret" }),
      refresh_token: Secret({ title: "Refresh Token" }),
    },
    { title: "OAuth Credentials", ...options, "x-oauth2-provider": provider },
  );
}

/**
 * A hand-written JSON schema with the type it describes, to embed in a
 * TypeBox schema (e.g. a fragment shared with plain-schema code). The
 * type is the caller's word: keep the two in agreement.
 */
export function Typed<T>(schema: Record<string, unknown>): TUnsafe<T> {
  return Type.Unsafe<T>(schema);
}

/** A copy of `schema` with more options (e.g. an `order` for a shared fragment), of the same type. */
export function Annotate<T extends TSchema>(schema: T, options: Annotated<SchemaOptions>): T {
  return { ...schema, ...options };
}
