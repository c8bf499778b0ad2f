/**
 * libpq's `sslmode` for node-postgres, which itself only knows "TLS or not".
 * The modes that fall back (`allow`, `prefer`) are played by connecting
 * twice: `prefer` tries TLS first and retries in plain text when the server
 * has no TLS; `allow` tries plain text first and retries with TLS when the
 * server refuses an unencrypted connection. `require` encrypts without
 * checking the certificate, `verify-ca` checks the chain but not the host
 * name, `verify-full` checks both (against Node's trusted CAs).
 */
import type { ConnectionOptions } from "node:tls";
import { ConnectorError } from "../sdk/errors.js";

export const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof SSL_MODES)[number];

/**
 * node-postgres's `ssl` option for a mode's first attempt. `rootCert`: PEM
 * certificates of the CAs to trust (libpq's sslrootcert) instead of Node's
 * built-in list, for servers with a private CA (or a cloud provider's CA
 * bundle).
 */
export function tlsOptions(mode: SslMode, rootCert?: string): false | ConnectionOptions {
  const ca = rootCert ? { ca: rootCert } : {};
  switch (mode) {
    case "disable":
    case "allow":
      return false;
    case "prefer":
    case "require":
      return { rejectUnauthorized: false };
    case "verify-ca":
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined, ...ca };
    case "verify-full":
      return { rejectUnauthorized: true, ...ca };
  }
}

/** The description both connectors give their sslrootcert field. */
export const ROOT_CERT_DESCRIPTION =
  "PEM certificate(s) of the certificate authority that signed the server's certificate (libpq's sslrootcert), for verify-ca and verify-full; Node's built-in CA list is used when empty.";

/** Checks a configured sslrootcert, naming `field` when it is not PEM certificates. */
export function checkRootCert(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string" || !/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(value)) {
    throw new ConnectorError(`endpoint config ${field} must hold PEM certificates ("-----BEGIN CERTIFICATE-----" ...)`);
  }
  return value;
}

/** The server answered a TLS request with "no TLS here". */
export function isNoTlsError(err: unknown): boolean {
  return /does not support SSL/i.test(String((err as Error)?.message));
}

/** The server refused a plain-text connection (pg_hba.conf allows only hostssl). */
export function isTlsRequiredError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === "28000" && /SSL off|no encryption/i.test(String(e.message));
}

/**
 * Connects with `attempt(ssl)`, retrying once the other way where the mode
 * allows it. `attempt` must leave nothing open when it throws.
 */
export async function connectWithSslMode<T>(
  mode: SslMode,
  attempt: (ssl: false | ConnectionOptions) => Promise<T>,
  rootCert?: string,
): Promise<T> {
  try {
    return await attempt(tlsOptions(mode, rootCert));
  } catch (err) {
    if (mode === "prefer" && isNoTlsError(err)) return attempt(false);
    if (mode === "allow" && isTlsRequiredError(err)) return attempt({ rejectUnauthorized: false });
    throw err;
  }
}
