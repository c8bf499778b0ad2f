/**
 * The "address" field of database endpoint configs: host, host:port or
 * [v6]:port, with the engine's default port when none is given. One
 * parser per config style, so each engine's connectors read it alike.
 */
import { ConnectorError } from "../sdk/errors.js";

export interface HostPort {
  host: string;
  port: number;
}

/**
 * Materialization style (`endpoint config field "address"`): [v6]:port,
 * host:port, or a bare host or bare v6 address; a bad port is an error.
 */
export function splitAddress(address: string, defaultPort: number): HostPort {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(address);
  if (bracket) return { host: bracket[1]!, port: bracket[2] ? checkPort(bracket[2]) : defaultPort };
  if (address.split(":").length === 2) {
    const [host, port] = address.split(":");
    return { host: host!, port: checkPort(port!) };
  }
  return { host: address, port: defaultPort };
}

function checkPort(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new ConnectorError(`endpoint config field "address" has an invalid port ${JSON.stringify(text)}`);
  return n;
}

/** Capture style (`endpoint config /address`): host, host:port or [v6](:port), checked before use. */
export function checkAddress(address: string, defaultPort: number): void {
  if (!/^[^:\s]+(:\d{1,5})?$/.test(address) && !/^\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(address)) {
    throw new ConnectorError(`endpoint config /address must be host or host:port, like "db.example.com:${defaultPort}"`);
  }
}

/** Host and port of an address that passed `checkAddress`. */
export function hostPort(address: string, defaultPort: number): HostPort {
  const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(address)!;
  return { host: m[1]!, port: m[2] ? Number(m[2]) : defaultPort };
}
