/**
 * Connecting to Redis, with errors a user can act on: wrong password,
 * unreachable host and TLS failures are ConnectorErrors naming the server,
 * never quoting the password.
 */
import { Redis } from "ioredis";
import { ConnectorError, networkCondition, type ErrorCondition } from "../../src/sdk/errors.js";
import type { Endpoint } from "./config.js";
import { acquireTunnel } from "../../src/net/ssh-tunnel.js";

const CONNECT_TIMEOUT_MS = 10_000;

/** The server's address as the user wrote it, for messages. */
export function where(ep: Endpoint): string {
  return `${ep.tls ? "rediss" : "redis"}://${ep.host.includes(":") ? `[${ep.host}]` : ep.host}:${ep.port}`;
}

/**
 * Whether a failure is the server's passing state: out of clients or memory
 * ("exhausted"), or loading its data set, busy with a script, without a
 * reachable primary, or out of reach ("unavailable").
 */
export function redisCondition(err: unknown): ErrorCondition | undefined {
  const msg = String((err as Error)?.message ?? err);
  if (/max(imum)? number of clients reached|^OOM\b|\bOOM command not allowed/i.test(msg)) return "exhausted";
  if (/^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN)\b/.test(msg)) return "unavailable";
  return networkCondition(err);
}

/** Turns a connection or command failure into a message for the user. */
export function redisError(err: unknown, ep: Endpoint, doing: string): ConnectorError {
  const e = err as { code?: string; message?: string };
  const msg = e?.message ?? String(err);
  const at = where(ep);
  let text: string;
  if (/WRONGPASS|invalid password|invalid username-password/i.test(msg)) {
    text = `authentication failed at ${at}: wrong user name or password`;
  } else if (/NOAUTH/i.test(msg)) {
    text = `${at} requires a password: set the password field`;
  } else if (/NOPERM/i.test(msg)) {
    text = `the user has no permission ${doing} at ${at}: ${msg}`;
  } else if (e?.code === "ECONNREFUSED") {
    text = `could not connect to ${at}: connection refused (is Redis running there?)`;
  } else if (e?.code === "ENOTFOUND" || e?.code === "EAI_AGAIN") {
    text = `could not connect to ${at}: host ${JSON.stringify(ep.host)} not found`;
  } else if (e?.code === "ETIMEDOUT" || /timed? ?out/i.test(msg)) {
    text = `could not connect to ${at}: timed out after ${CONNECT_TIMEOUT_MS / 1000}s`;
  } else if (/certificate|self.signed|SSL|TLS/i.test(msg) || /CERT|SSL/.test(e?.code ?? "")) {
    text = `TLS handshake with ${at} failed: ${msg}`;
  } else if (/DB index is out of range|invalid DB index/i.test(msg)) {
    text = `database index is out of range at ${at}`;
  } else {
    text = `Redis at ${at} failed ${doing}: ${msg}`;
  }
  return new ConnectorError(text, { cause: err, condition: redisCondition(err) });
}

/**
 * Opens a connection and checks it with PING. The client does not reconnect
 * behind the connector's back: a lost connection fails the session, and the
 * runtime restarts it from its last commit.
 */
export async function connect(ep: Endpoint, name: string): Promise<Redis> {
  // Through a tunnel, connect to its local end; TLS still names the real host.
  const lease = ep.tunnel ? await acquireTunnel(ep.tunnel, { host: ep.host, port: ep.port }) : undefined;
  const client = new Redis({
    ...ep.options,
    ...(lease ? { host: lease.host, port: lease.port } : {}),
    connectionName: name,
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    reconnectOnError: () => false,
  });
  // Errors surface through the commands that fail; without this listener
  // ioredis would also print them as unhandled.
  let lastError: unknown;
  client.on("error", (err) => (lastError = err));
  if (lease) client.once("end", () => lease.release());
  try {
    await client.connect();
    await client.ping();
    // ioredis selects the database while connecting but only reports a
    // failure as an event; selecting again surfaces it here.
    if (ep.options.db) await client.select(ep.options.db);
  } catch (err) {
    client.disconnect();
    lease?.release();
    const cause = lastError ?? err;
    if (!lastError && /Stream isn't writeable|Connection is closed/.test((err as Error)?.message ?? "")) {
      throw new ConnectorError(`could not connect to ${where(ep)}: no answer within ${CONNECT_TIMEOUT_MS / 1000}s`, { cause: err, condition: "unavailable" });
    }
    throw redisError(cause, ep, "connecting");
  }
  return client;
}
