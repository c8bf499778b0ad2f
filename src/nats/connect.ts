/**
 * One place that opens a NATS connection from a connector's endpoint config
 * (see config-schema.ts): servers, the authenticator, TLS, and failures turned
 * into messages a user can act on. Credentials never reach a message: URLs
 * are shown without their user info and errors pass through redactSecrets.
 */
import { connect, credsAuthenticator, nkeyAuthenticator, tokenAuthenticator, usernamePasswordAuthenticator, type NatsConnection, type ConnectionOptions } from "@nats-io/transport-node";
import { ConnectorError } from "../sdk/errors.js";
import { redactSecrets } from "../log.js";
import type { NatsEndpoint, NatsTls } from "./config-schema.js";

export type { NatsConnection } from "@nats-io/transport-node";

/** The configured server URLs, trimmed. */
export function serverList(servers: string): string[] {
  return servers
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** A server URL as shown in messages: no user info. */
export function displayServer(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1");
}

function authenticator(cfg: NatsEndpoint): ConnectionOptions["authenticator"] {
  const a = cfg.auth ?? { type: "none" };
  const bytes = (s: string) => new TextEncoder().encode(s.trim());
  switch (a.type) {
    case "none":
      return undefined;
    case "token":
      return tokenAuthenticator(a.token);
    case "user_password":
      return usernamePasswordAuthenticator(a.user, a.password);
    case "nkey":
      if (!/^SU[A-Z2-7]+$/.test(a.seed.trim())) throw new ConnectorError("endpoint config /auth/seed must be a user NKey seed (starting with SU)");
      return nkeyAuthenticator(bytes(a.seed));
    case "creds":
      if (!/-----BEGIN NATS USER JWT-----/.test(a.creds) || !/-----BEGIN USER NKEY SEED-----/.test(a.creds)) {
        throw new ConnectorError("endpoint config /auth/creds must hold a .creds file's contents (a NATS USER JWT and a USER NKEY SEED block)");
      }
      // The client's parser wants LF line ends and a newline after the last block: pasted
      // creds often lose the final newline (or arrive with CRLF), so normalize both.
      return credsAuthenticator(new TextEncoder().encode(`${a.creds.replace(/\r\n?/g, "\n").trim()}\n`));
  }
}

function tlsOptions(tls: NatsTls | undefined): Pick<ConnectionOptions, "tls"> {
  const mode = tls?.mode ?? "prefer";
  if (mode === "disable") return { tls: null };
  const opts: Record<string, unknown> = {};
  if (tls?.ca) opts.ca = tls.ca;
  if (tls?.cert) opts.cert = tls.cert;
  if (tls?.key) opts.key = tls.key;
  if (tls?.insecureSkipVerify) opts.rejectUnauthorized = false;
  if (tls?.handshakeFirst) opts.handshakeFirst = true;
  // An object makes TLS mandatory; without one the client upgrades when the server offers TLS.
  if (mode === "require" || Object.keys(opts).length > 0) return { tls: opts };
  return {};
}

export interface ConnectNatsOptions {
  /** The connection's name as the server shows it (e.g. the connector's name). */
  name?: string;
  /** Give up connecting after this long (default 20 s). */
  timeoutMs?: number;
}

/** Connects to the configured servers; failures become ConnectorErrors naming the servers (without credentials). */
export async function connectNats(cfg: NatsEndpoint, opts: ConnectNatsOptions = {}): Promise<NatsConnection> {
  const servers = serverList(cfg.servers);
  if (servers.length === 0) throw new ConnectorError("endpoint config /servers names no server");
  try {
    return await connect({
      servers,
      name: opts.name,
      timeout: opts.timeoutMs ?? 20_000,
      authenticator: authenticator(cfg),
      ...tlsOptions(cfg.tls),
      // A connector session fails and is restarted rather than waiting on a dead server.
      reconnect: true,
      maxReconnectAttempts: 10,
      reconnectTimeWait: 1000,
    });
  } catch (err) {
    throw describeNatsConnectError(err, servers);
  }
}

/** A connect failure as a ConnectorError: what went wrong, which servers, never a credential. */
export function describeNatsConnectError(err: unknown, servers: string[]): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const where = servers.map(displayServer).join(", ");
  const e = err as { name?: string; message?: string; code?: string; cause?: { code?: string; message?: string } };
  const text = redactSecrets(String(e?.message ?? err));
  const code = e?.code ?? e?.cause?.code;
  if (e?.name === "AuthorizationError" || /authorization violation|authentication/i.test(text)) {
    return new ConnectorError(`NATS server ${where} refused the credentials (authorization violation): check endpoint config /auth`);
  }
  if (/tls|certificate|self[- ]signed|SSL/i.test(text) || /CERT|TLS/.test(String(code ?? ""))) {
    return new ConnectorError(`TLS with NATS server ${where} failed: ${text}; check endpoint config /tls`, { cause: err });
  }
  const unreachable = code === "ECONNREFUSED" || /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|timeout|CONNECTION_REFUSED/i.test(`${code ?? ""} ${text}`);
  return new ConnectorError(`cannot connect to NATS server ${where}: ${text}`, { cause: err, ...(unreachable ? { condition: "unavailable" as const } : {}) });
}

/**
 * A JetStream API failure as a ConnectorError naming `what` was being done:
 * permission violations, a server without JetStream, and missing streams read
 * as such.
 */
export function describeJetStreamError(err: unknown, what: string): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const e = err as { name?: string; message?: string; code?: number | string; api_error?: { err_code?: number } };
  const text = redactSecrets(String(e?.message ?? err));
  if (e?.name === "PermissionViolationError" || /permissions violation/i.test(text)) {
    return new ConnectorError(`${what}: the NATS user lacks permission (${text})`, { cause: err });
  }
  if (e?.name === "JetStreamNotEnabled" || /jetstream not enabled/i.test(text) || e?.name === "NoRespondersError") {
    return new ConnectorError(`${what}: JetStream is not enabled for this account on the NATS server (${text})`, { cause: err });
  }
  if (e?.name === "StreamNotFoundError" || /stream not found/i.test(text)) {
    return new ConnectorError(`${what}: no such stream`, { cause: err });
  }
  const transient = e?.name === "TimeoutError" || /timeout|disconnect|closed/i.test(text);
  const out = new ConnectorError(`${what}: ${text}`, { cause: err, ...(transient ? { condition: "unavailable" as const } : {}) });
  return out;
}
