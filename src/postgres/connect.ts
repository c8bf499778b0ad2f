/**
 * Opening a PostgreSQL connection the way both Postgres connectors need it:
 * through an SSH tunnel when configured, under libpq's sslmode semantics.
 * Through a tunnel the client talks to a local port, so TLS is told the
 * real server's name to check its certificate against.
 */
import { isIP } from "node:net";
import { checkServerIdentity, type ConnectionOptions } from "node:tls";
import pg from "pg";
import { acquireTunnel, type SshForwarding, type Target } from "../net/ssh-tunnel.js";
import { connectWithSslMode, type SslMode } from "./tls.js";

export interface ConnectOptions {
  sslmode: SslMode;
  sslrootcert?: string;
  tunnel?: SshForwarding;
}

/**
 * Connects to `target` with the client settings `configFor(address, ssl)`
 * gives (the address is the tunnel's local end when there is one). Errors
 * after connecting surface through the query or stream in use, so the
 * client's own error events are swallowed instead of crashing the process.
 * A tunnel is released when the client ends.
 */
export async function connectPostgres(target: Target, opts: ConnectOptions, configFor: (addr: Target, ssl: false | ConnectionOptions) => pg.ClientConfig): Promise<pg.Client> {
  const attempt = async (addr: Target, ssl: false | ConnectionOptions) => {
    const client = new pg.Client(configFor(addr, ssl));
    client.on("error", () => undefined);
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    return client;
  };
  const lease = opts.tunnel ? await acquireTunnel(opts.tunnel, target) : undefined;
  const addr = lease ? { host: lease.host, port: lease.port } : target;
  const tls = (ssl: false | ConnectionOptions): false | ConnectionOptions => {
    if (!ssl || !lease) return ssl;
    return {
      ...ssl,
      ...(isIP(target.host) ? {} : { servername: target.host }),
      checkServerIdentity: ssl.checkServerIdentity ?? ((_host, cert) => checkServerIdentity(target.host, cert)),
    };
  };
  try {
    const client = await connectWithSslMode(opts.sslmode, (ssl) => attempt(addr, tls(ssl)), opts.sslrootcert);
    if (lease) client.once("end", () => lease.release());
    return client;
  } catch (err) {
    lease?.release();
    throw err;
  }
}
