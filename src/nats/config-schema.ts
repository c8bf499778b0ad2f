/**
 * The endpoint config fields every NATS connector takes alike: the servers to
 * dial, how to authenticate (token, user/password, NKey seed, or a creds
 * file's contents), and TLS. Each connector spreads `natsConnectionProperties`
 * into its own schema and adds its own fields after them.
 */

export type NatsAuth =
  | { type: "none" }
  | { type: "token"; token: string }
  | { type: "user_password"; user: string; password: string }
  | { type: "nkey"; seed: string }
  | { type: "creds"; creds: string };

export const NATS_TLS_MODES = ["prefer", "require", "disable"] as const;
export type NatsTlsMode = (typeof NATS_TLS_MODES)[number];

export interface NatsTls {
  /** prefer: TLS when the server offers it; require: fail without it; disable: never. */
  mode?: NatsTlsMode;
  /** PEM certificate(s) of the CA that signed the server's certificate. */
  ca?: string;
  /** PEM client certificate and key, for servers that verify clients. */
  cert?: string;
  key?: string;
  /** Accept any server certificate (testing only). */
  insecureSkipVerify?: boolean;
  /** Start TLS before the server's INFO (servers configured with handshake_first). */
  handshakeFirst?: boolean;
}

/** The connection part of a NATS connector's endpoint config. */
export interface NatsEndpoint {
  /** Comma-separated server URLs, e.g. `nats://127.0.0.1:4222`. */
  servers: string;
  auth?: NatsAuth;
  tls?: NatsTls;
}

const authOption = (type: string, title: string, properties: Record<string, unknown>, required: string[]) => ({
  title,
  type: "object",
  properties: { type: { type: "string", const: type, default: type, order: 0 }, ...properties },
  required: ["type", ...required],
});

export const natsServersProperty = {
  title: "Servers",
  description: "Comma-separated NATS server URLs, e.g. nats://nats.example.com:4222 (tls:// for TLS-only servers). Put credentials in Authentication, not in the URL.",
  type: "string",
  minLength: 1,
  pattern: "^\\s*[^\\s,]+(\\s*,\\s*[^\\s,]+)*\\s*$",
  order: 0,
};

export const natsAuthProperty = {
  title: "Authentication",
  description: "How to authenticate to the NATS server.",
  type: "object",
  discriminator: { propertyName: "type" },
  oneOf: [
    authOption("none", "None", {}, []),
    authOption("token", "Token", { token: { title: "Token", type: "string", minLength: 1, secret: true, order: 1 } }, ["token"]),
    authOption(
      "user_password",
      "User and password",
      {
        user: { title: "User", type: "string", minLength: 1, order: 1 },
        password: { title: "Password", type: "string", secret: true, order: 2 },
      },
      ["user", "password"],
    ),
    authOption(
      "nkey",
      "NKey",
      { seed: { title: "NKey seed", description: "The user's NKey seed (starts with SU).", type: "string", minLength: 1, secret: true, multiline: true, order: 1 } },
      ["seed"],
    ),
    authOption(
      "creds",
      "Credentials file",
      {
        creds: {
          title: "Credentials",
          description: "The contents of a .creds file: the user JWT and its NKey seed.",
          type: "string",
          minLength: 1,
          secret: true,
          multiline: true,
          order: 1,
        },
      },
      ["creds"],
    ),
  ],
  default: { type: "none" },
  order: 1,
};

export const natsTlsProperty = {
  title: "TLS",
  type: "object",
  properties: {
    mode: {
      title: "Mode",
      description: "prefer: encrypt when the server offers TLS; require: fail unless the connection is encrypted; disable: never encrypt.",
      type: "string",
      enum: [...NATS_TLS_MODES],
      default: "prefer",
      order: 0,
    },
    ca: { title: "CA certificate", description: "PEM certificate(s) of the authority that signed the server's certificate; Node's built-in list when empty.", type: "string", multiline: true, order: 1 },
    cert: { title: "Client certificate", description: "PEM client certificate, for servers that verify clients.", type: "string", multiline: true, order: 2 },
    key: { title: "Client key", description: "PEM private key of the client certificate.", type: "string", secret: true, multiline: true, order: 3 },
    insecureSkipVerify: { title: "Skip certificate verification", description: "Accept any server certificate. For testing only.", type: "boolean", default: false, order: 4 },
    handshakeFirst: { title: "TLS handshake first", description: "Start TLS before the server speaks (servers with handshake_first).", type: "boolean", default: false, order: 5 },
  },
  additionalProperties: false,
  advanced: true,
  order: 2,
};

/** Spread into a connector's endpoint schema `properties`; `servers` is required. */
export const natsConnectionProperties = {
  servers: natsServersProperty,
  auth: natsAuthProperty,
  tls: natsTlsProperty,
};
