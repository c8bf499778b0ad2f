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

export const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** node-postgres's `ssl` option for a mode's first attempt. */
export function tlsOptions(mode: SslMode): false | ConnectionOptions {
  switch (mode) {
    case "disable":
    case "allow":
      return false;
    case "prefer":
    case "require":
      return { rejectUnauthorized: false };
    case "verify-ca":
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case "verify-full":
      return { rejectUnauthorized: true };
  }
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
export async function connectWithSslMode<T>(mode: SslMode, attempt: (ssl: false | ConnectionOptions) => Promise<T>): Promise<T> {
  try {
    return await attempt(tlsOptions(mode));
  } catch (err) {
    if (mode === "prefer" && isNoTlsError(err)) return attempt(false);
    if (mode === "allow" && isTlsRequiredError(err)) return attempt({ rejectUnauthorized: false });
    throw err;
  }
}
