/**
 * SSH forwarding for databases that are only reachable through a bastion
 * host, configured as Flow's connectors do (`networkTunnel.sshForwarding`:
 * an `ssh://user@host[:port]` endpoint and a private key).
 *
 * A tunnel is a local listener on 127.0.0.1 whose every connection is
 * forwarded (SSH direct-tcpip) to the target host and port as the bastion
 * sees them. Connections of one process to the same target through the same
 * bastion share one SSH session; it closes when the last one is released.
 * Opening a tunnel also proves the path: it forwards one probe connection,
 * so a bastion that cannot reach the database is reported then, by name,
 * rather than as a connection the database client sees reset.
 */
import { createHash } from "node:crypto";
import { createServer, type AddressInfo, type Server } from "node:net";
// ssh2 is loaded on first use: it costs ~100 ms of start-up that connectors without a tunnel should not pay.
import type { Client, ConnectConfig } from "ssh2";
import { ConnectorError } from "../sdk/errors.js";
import { Secret, Type, type Static } from "../sdk/schema.js";

/** The `networkTunnel` property of a connector's endpoint config schema. */
export const networkTunnelSchema = Type.Object(
  {
    sshForwarding: Type.Optional(
      Type.Object(
        {
          sshEndpoint: Type.String({
            title: "SSH Endpoint",
            description: "The bastion's SSH server, as ssh://user@host[:port] (port 22 by default).",
            pattern: "^ssh://[^@/]+@[^/]+$",
          }),
          privateKey: Secret({ title: "SSH Private Key", description: "The private key of the SSH user, in PEM or OpenSSH format.", multiline: true }),
        },
        { title: "SSH Forwarding" },
      ),
    ),
  },
  { title: "Network Tunnel", description: "Connect through an SSH bastion host, for databases on a private network.", advanced: true },
);

export type NetworkTunnel = Static<typeof networkTunnelSchema>;
/** ssh://user@host[:port] of the bastion, and the user's private key (PEM or OpenSSH format). */
export type SshForwarding = NonNullable<NetworkTunnel["sshForwarding"]>;

/** The configured forwarding, checked beyond what the JSON schema says; undefined when none. */
export function checkTunnel(t: NetworkTunnel | undefined): SshForwarding | undefined {
  const f = t?.sshForwarding;
  if (!f) return undefined;
  parseSshEndpoint(f.sshEndpoint);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(f.privateKey ?? "")) {
    throw new ConnectorError("endpoint config networkTunnel.sshForwarding.privateKey must be a private key in PEM or OpenSSH format (-----BEGIN ... PRIVATE KEY-----)");
  }
  return f;
}

export interface Target {
  host: string;
  port: number;
}

/** Where to connect instead of the target, and the call that gives it back. */
export interface TunnelLease {
  host: string;
  port: number;
  release(): void;
}

const CONNECT_TIMEOUT_MS = 30_000;

/** Parses ssh://user@host[:port], naming the config field at fault. */
export function parseSshEndpoint(endpoint: string, field = "networkTunnel.sshForwarding.sshEndpoint"): { user: string; host: string; port: number } {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new ConnectorError(`endpoint config ${field} must look like ssh://user@host[:port], not ${JSON.stringify(endpoint)}`);
  }
  if (url.protocol !== "ssh:" || !url.username || !url.hostname || (url.pathname && url.pathname !== "/")) {
    throw new ConnectorError(`endpoint config ${field} must look like ssh://user@host[:port], not ${JSON.stringify(endpoint)}`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return { user: decodeURIComponent(url.username), host, port: url.port ? Number(url.port) : 22 };
}

interface Shared {
  lease: Promise<{ host: string; port: number }>;
  users: number;
  close(): void;
}

const open = new Map<string, Shared>();

/** A local address forwarding to `target` through the bastion of `fwd`. */
export async function acquireTunnel(fwd: SshForwarding, target: Target): Promise<TunnelLease> {
  const keyHash = createHash("sha256").update(fwd.privateKey).digest("hex").slice(0, 16);
  const id = `${fwd.sshEndpoint}|${keyHash}|${target.host}:${target.port}`;
  let shared = open.get(id);
  if (!shared) {
    // A session that fails or closes is forgotten, so the next acquire opens a fresh one.
    const created: Shared = startTunnel(fwd, target, () => {
      if (open.get(id) === created) open.delete(id);
    });
    shared = created;
    open.set(id, shared);
  }
  shared.users++;
  const s = shared;
  let local: { host: string; port: number };
  try {
    local = await s.lease;
  } catch (err) {
    s.users--;
    throw err;
  }
  let released = false;
  return {
    ...local,
    release() {
      if (released) return;
      released = true;
      if (--s.users === 0) s.close();
    },
  };
}

function startTunnel(fwd: SshForwarding, target: Target, onClosed: () => void): Shared {
  const bastion = parseSshEndpoint(fwd.sshEndpoint);
  const where = `the SSH server ${bastion.user}@${bastion.host}:${bastion.port}`;
  let ssh: Client | undefined;
  let server: Server | undefined;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    onClosed();
    server?.close();
    ssh?.end();
  };

  const lease = (async () => {
    const { Client: SshClient } = await import("ssh2");
    const client = new SshClient();
    ssh = client;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error & { level?: string }) => reject(sshError(err, where));
      client.once("ready", () => {
        client.off("error", onError);
        // Later failures close the tunnel; connections through it then fail and are reported by their clients.
        client.on("error", () => close());
        resolve();
      });
      client.once("error", onError);
      const cfg: ConnectConfig = {
        host: bastion.host,
        port: bastion.port,
        username: bastion.user,
        privateKey: fwd.privateKey,
        readyTimeout: CONNECT_TIMEOUT_MS,
        keepaliveInterval: 30_000,
      };
      try {
        client.connect(cfg);
      } catch (err) {
        // ssh2 throws synchronously on a key it cannot parse.
        reject(new ConnectorError(`endpoint config networkTunnel.sshForwarding.privateKey cannot be used: ${(err as Error).message}`));
      }
    });
    client.on("close", () => close());

    // The probe: can the bastion reach the target at all?
    await new Promise<void>((resolve, reject) => {
      client.forwardOut("127.0.0.1", 0, target.host, target.port, (err, stream) => {
        if (err) {
          reject(new ConnectorError(`${where} cannot reach ${target.host}:${target.port}: ${err.message}`));
          return;
        }
        stream.on("error", () => {});
        stream.end();
        resolve();
      });
    });

    server = createServer((socket) => {
      socket.on("error", () => {});
      client.forwardOut(socket.remoteAddress ?? "127.0.0.1", socket.remotePort ?? 0, target.host, target.port, (err, stream) => {
        if (err) {
          socket.destroy(err);
          return;
        }
        stream.on("error", () => socket.destroy());
        socket.pipe(stream).pipe(socket);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server!.once("error", reject);
      server!.listen(0, "127.0.0.1", () => resolve());
    });
    return { host: "127.0.0.1", port: (server.address() as AddressInfo).port };
  })();
  lease.catch(() => close());
  return { lease, users: 0, close };
}

function sshError(err: Error & { level?: string; code?: string }, where: string): ConnectorError {
  if (err.level === "client-authentication") {
    return new ConnectorError(`${where} refused the private key: authentication failed (check the user in sshEndpoint and the key)`, { cause: err });
  }
  if (err.code === "ECONNREFUSED") return new ConnectorError(`cannot connect to ${where}: connection refused`, { cause: err });
  if (err.code === "ENOTFOUND" || err.code === "EAI_AGAIN") return new ConnectorError(`cannot connect to ${where}: host not found`, { cause: err });
  if (/timed out/i.test(err.message)) return new ConnectorError(`cannot connect to ${where}: timed out`, { cause: err });
  return new ConnectorError(`cannot connect to ${where}: ${err.message}`, { cause: err });
}
