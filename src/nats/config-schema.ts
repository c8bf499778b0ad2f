/**
 * The endpoint config fields every NATS connector takes alike: the servers to
 * dial, how to authenticate (token, user/password, NKey seed, or a creds
 * file's contents), and TLS, as TypeBox schemas that give their types. Each
 * connector spreads `natsConnectionProperties` into its own schema and adds its
 * own fields after them.
 */
import type { TObject, TSchema } from "@sinclair/typebox";
import { Multiline, Secret, StringEnum, Type, type Static } from "../sdk/schema.js";

/** One way to authenticate: an object tagged by `type` (its `const`, also its default). */
const authOption = <T extends string, P extends Record<string, TSchema>>(type: T, title: string, properties: P) =>
  Type.Object({ type: Type.Literal(type, { default: type, order: 0 }), ...properties }, { title });

export const natsServersProperty = Type.String({
  title: "Servers",
  description: "Comma-separated NATS server URLs, e.g. nats://nats.example.com:4222 (tls:// for TLS-only servers). Put credentials in Authentication, not in the URL.",
  minLength: 1,
  pattern: "^\\s*[^\\s,]+(\\s*,\\s*[^\\s,]+)*\\s*$",
  order: 0,
});

const authOptions = [
  authOption("none", "None", {}),
  authOption("token", "Token", { token: Secret({ title: "Token", minLength: 1, order: 1 }) }),
  authOption("user_password", "User and password", {
    user: Type.String({ title: "User", minLength: 1, order: 1 }),
    password: Secret({ title: "Password", order: 2 }),
  }),
  authOption("nkey", "NKey", { seed: Secret({ title: "NKey seed", description: "The user's NKey seed (starts with SU).", minLength: 1, multiline: true, order: 1 }) }),
  authOption("creds", "Credentials file", {
    creds: Secret({ title: "Credentials", description: "The contents of a .creds file: the user JWT and its NKey seed.", minLength: 1, multiline: true, order: 1 }),
  }),
] as const;

export type NatsAuth = Static<(typeof authOptions)[number]>;

/** A oneOf with a discriminator (how Flow's UI renders a choice of forms), typed as the union of its options. */
export const natsAuthProperty = Type.Unsafe<NatsAuth>({
  title: "Authentication",
  description: "How to authenticate to the NATS server.",
  type: "object",
  discriminator: { propertyName: "type" },
  oneOf: [...authOptions],
  default: { type: "none" },
  order: 1,
});

export const NATS_TLS_MODES = ["prefer", "require", "disable"] as const;
export type NatsTlsMode = (typeof NATS_TLS_MODES)[number];

export const natsTlsProperty = Type.Object(
  {
    /** prefer: TLS when the server offers it; require: fail without it; disable: never. */
    mode: Type.Optional(
      StringEnum(NATS_TLS_MODES, {
        title: "Mode",
        description: "prefer: encrypt when the server offers TLS; require: fail unless the connection is encrypted; disable: never encrypt.",
        default: "prefer",
        order: 0,
      }),
    ),
    /** PEM certificate(s) of the CA that signed the server's certificate. */
    ca: Type.Optional(Multiline({ title: "CA certificate", description: "PEM certificate(s) of the authority that signed the server's certificate; Node's built-in list when empty.", order: 1 })),
    /** PEM client certificate and key, for servers that verify clients. */
    cert: Type.Optional(Multiline({ title: "Client certificate", description: "PEM client certificate, for servers that verify clients.", order: 2 })),
    key: Type.Optional(Secret({ title: "Client key", description: "PEM private key of the client certificate.", multiline: true, order: 3 })),
    /** Accept any server certificate (testing only). */
    insecureSkipVerify: Type.Optional(Type.Boolean({ title: "Skip certificate verification", description: "Accept any server certificate. For testing only.", default: false, order: 4 })),
    /** Start TLS before the server's INFO (servers configured with handshake_first). */
    handshakeFirst: Type.Optional(
      Type.Boolean({ title: "TLS handshake first", description: "Start TLS before the server speaks (servers with handshake_first).", default: false, order: 5 }),
    ),
  },
  { title: "TLS", additionalProperties: false, advanced: true, order: 2 },
);

export type NatsTls = Static<typeof natsTlsProperty>;

/** Spread into a connector's TypeBox endpoint schema; `servers` is required, the others optional. */
export const natsConnectionProperties = {
  /** Comma-separated server URLs, e.g. `nats://127.0.0.1:4222`. */
  servers: natsServersProperty,
  auth: Type.Optional(natsAuthProperty),
  tls: Type.Optional(natsTlsProperty),
};

/** The connection part of a NATS connector's endpoint config. */
export type NatsEndpoint = Static<TObject<typeof natsConnectionProperties>>;
