/**
 * Endpoint and resource configuration of materialize-nats: the JSON schemas
 * shown in Flow's UI and their resolved form. The connection fields (servers,
 * authentication, TLS) are the ones every NATS connector shares
 * (src/nats/config-schema.ts).
 */
import { ConnectorError } from "../../src/sdk/errors.js";
import { natsConnectionProperties, type NatsEndpoint } from "../../src/nats/config-schema.js";
import { Advanced, DeltaUpdates, StringEnum, Type, type Static } from "../../src/sdk/schema.js";

/** Bucket, stream and subject-token names the connector creates or addresses. */
export const NAME = /^[A-Za-z0-9_-]+$/;

export const configSchema = Type.Object(
  {
    ...natsConnectionProperties,
    advanced: Type.Optional(
      Advanced(
        {
          internal_prefix: Type.Optional(
            Type.String({
              title: "Internal prefix",
              description:
                "Names the connector's own stream (<prefix>_staging, subjects <prefix>.staging.>) holding staged transactions, and its KV bucket (<prefix>_progress) recording how far each was applied.",
              default: "flow_internal",
              pattern: NAME.source,
            }),
          ),
          duplicate_window_seconds: Type.Optional(
            Type.Integer({
              title: "Duplicate window (seconds)",
              description:
                "Duplicate window of the streams Apply creates for delta bindings. A transaction replayed after a crash is recognized by its message ids only within this window (see the README).",
              default: 120,
              minimum: 1,
              maximum: 604800,
            }),
          ),
          chunk_kib: Type.Optional(
            Type.Integer({
              title: "Staged chunk size (KiB)",
              description: "Documents are staged in messages of up to this size (capped by the server's max_payload).",
              default: 512,
              minimum: 16,
              maximum: 65536,
            }),
          ),
          publish_window: Type.Optional(
            Type.Integer({
              title: "Publishes in flight",
              description: "How many publishes may await their acknowledgement at once while a transaction is applied.",
              default: 512,
              minimum: 1,
              maximum: 65536,
            }),
          ),
        },
        { title: "Advanced Options", additionalProperties: false, order: 3 },
      ),
    ),
  },
  { $schema: "http://json-schema.org/draft-07/schema#", title: "NATS JetStream Connection" },
);

export type EndpointConfig = Static<typeof configSchema>;

export const resourceConfigSchema = Type.Object(
  {
    bucket: Type.Optional(
      Type.String({
        title: "KV bucket",
        description: "Standard updates: the JetStream KV bucket holding one entry per document key (created by Apply when missing).",
        pattern: NAME.source,
        order: 0,
      }),
    ),
    subject: Type.Optional(
      Type.String({
        title: "Subject",
        description: "Delta updates: the subject receiving one message per document, with Flow-Key and Flow-Action headers.",
        minLength: 1,
        order: 1,
      }),
    ),
    stream: Type.Optional(
      Type.String({
        title: "Stream",
        description: "Delta updates: the stream Apply creates for the subject when no stream captures it yet (default: the subject with '.' as '_').",
        pattern: NAME.source,
        order: 2,
      }),
    ),
    delta_updates: Type.Optional(
      DeltaUpdates({ title: "Delta updates", description: "Publish every document to the subject instead of keeping the latest per key in a KV bucket.", order: 3 }),
    ),
    format: Type.Optional(
      StringEnum(["json", "fields"], {
        title: "Value format",
        default: "json",
        description:
          "json: the value (or message payload) is the document. fields: a JSON object of the selected fields (standard updates keep the document in it too, to answer Loads).",
        order: 4,
      }),
    ),
    soft_delete: Type.Optional(
      Type.Boolean({
        title: "Soft delete",
        description: "Standard updates: keep the deletion document (its _meta/op is 'd') as the key's value instead of a KV delete marker.",
        default: false,
        order: 5,
      }),
    ),
  },
  { $schema: "http://json-schema.org/draft-07/schema#", title: "NATS Binding", additionalProperties: false },
);

export type ResourceConfig = Static<typeof resourceConfigSchema>;
export type ValueFormat = NonNullable<ResourceConfig["format"]>;

export interface Endpoint {
  connection: NatsEndpoint;
  internalPrefix: string;
  duplicateWindowNs: number;
  chunkBytes: number;
  publishWindow: number;
}

export function resolveEndpoint(cfg: EndpointConfig): Endpoint {
  const a = cfg.advanced ?? {};
  return {
    connection: { servers: cfg.servers, auth: cfg.auth, tls: cfg.tls },
    internalPrefix: a.internal_prefix ?? "flow_internal",
    duplicateWindowNs: (a.duplicate_window_seconds ?? 120) * 1e9,
    chunkBytes: (a.chunk_kib ?? 512) * 1024,
    publishWindow: a.publish_window ?? 512,
  };
}

/** A delta binding's subject: tokens of any printable text but `.`, `*`, `>` and spaces. */
export function checkSubject(subject: string, what: string): void {
  const tokens = subject.split(".");
  if (tokens.some((t) => t === "" || /[\s*>]/.test(t))) {
    throw new ConnectorError(`${what}: subject must be dot-separated tokens without spaces or wildcards (* and >)`);
  }
  if (subject.startsWith("$")) throw new ConnectorError(`${what}: subjects starting with $ are reserved by NATS`);
}

/** What one binding writes to, checked. */
export type Target = { kind: "kv"; bucket: string } | { kind: "subject"; subject: string; stream: string };

export function targetOf(r: ResourceConfig, delta: boolean, what: string): Target {
  if (delta) {
    if (!r.subject) throw new ConnectorError(`${what}: delta updates publish to a subject; set subject in the resource config`);
    if (r.bucket) throw new ConnectorError(`${what}: bucket applies to standard updates only; delta updates publish to subject`);
    if (r.soft_delete) throw new ConnectorError(`${what}: soft_delete applies to standard updates only; delta updates publish deletions with Flow-Action: delete`);
    checkSubject(r.subject, what);
    return { kind: "subject", subject: r.subject, stream: r.stream ?? r.subject.replace(/[^A-Za-z0-9_-]/g, "_") };
  }
  if (!r.bucket) throw new ConnectorError(`${what}: standard updates keep documents in a KV bucket; set bucket in the resource config (or delta_updates to publish to a subject)`);
  if (r.subject || r.stream) throw new ConnectorError(`${what}: subject and stream apply to delta updates only`);
  return { kind: "kv", bucket: r.bucket };
}

/** The resource path of a binding: its bucket or its subject. */
export function resourcePath(r: ResourceConfig): string[] {
  return [(r.delta_updates ? r.subject : r.bucket) ?? r.bucket ?? r.subject ?? ""];
}

/** Checks the targets of all bindings against each other. */
export function checkTargets(targets: Target[]): void {
  const seen = new Map<string, number>();
  targets.forEach((t, i) => {
    const id = t.kind === "kv" ? `bucket ${t.bucket}` : `subject ${t.subject}`;
    const prior = seen.get(id);
    if (prior !== undefined) throw new ConnectorError(`bindings ${prior} and ${i} both write to ${id}; each binding needs its own`);
    seen.set(id, i);
  });
}
