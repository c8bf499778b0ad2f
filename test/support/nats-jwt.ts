/**
 * Decentralized NATS auth for tests: an operator, an account and a user,
 * each with its own NKey and a JWT signed by the one above (ed25519 over
 * `header.claims`, base64url), plus the server config that trusts the
 * operator and preloads the account, and the user's .creds text. Enough
 * for nats-server to authenticate a creds-file client for real, without
 * the `nsc` tool.
 */
import { createHash } from "node:crypto";
import { nkeys } from "@nats-io/transport-node";

type KeyPair = ReturnType<typeof nkeys.createOperator>;

const b64url = (b: Uint8Array | string) => Buffer.from(b).toString("base64url");
/** The claim id NATS tools use: base32 of the SHA-256 of the claims without it (the server does not check it). */
function claimId(claims: object): string {
  const digest = createHash("sha256").update(JSON.stringify(claims)).digest();
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

function signJwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const body = { iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub: subject, nats: { ...nats, version: 2 } };
  const claims = { jti: claimId(body), ...body };
  const signed = `${b64url(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" }))}.${b64url(JSON.stringify(claims))}`;
  return `${signed}.${b64url(issuer.sign(new TextEncoder().encode(signed)))}`;
}

export interface NatsJwtSetup {
  /** nats-server config text: trusted operator, in-memory resolver with the account preloaded. */
  serverConf: string;
  /** The user's .creds file contents. */
  creds: string;
  /** A .creds text for a user signed by an account the server does not know. */
  foreignCreds: string;
}

function credsText(userJwt: string, user: KeyPair): string {
  const seed = new TextDecoder().decode(user.getSeed());
  return [
    "-----BEGIN NATS USER JWT-----",
    userJwt,
    "------END NATS USER JWT------",
    "",
    "************************* IMPORTANT *************************",
    "NKEY Seed printed below can be used to sign and prove identity.",
    "",
    "-----BEGIN USER NKEY SEED-----",
    seed,
    "------END USER NKEY SEED------",
    "",
  ].join("\n");
}

const UNLIMITED_ACCOUNT = {
  type: "account",
  limits: { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
  default_permissions: { pub: {}, sub: {} },
};
const UNLIMITED_USER = { type: "user", pub: {}, sub: {}, subs: -1, data: -1, payload: -1 };

export function natsJwtSetup(): NatsJwtSetup {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const user = nkeys.createUser();
  const operatorJwt = signJwt(operator, operator.getPublicKey(), "test-operator", { type: "operator" });
  const accountJwt = signJwt(operator, account.getPublicKey(), "test-account", UNLIMITED_ACCOUNT);
  const userJwt = signJwt(account, user.getPublicKey(), "test-user", UNLIMITED_USER);
  // A user of an account nobody preloaded: the server must refuse it.
  const stranger = nkeys.createAccount();
  const strangerUser = nkeys.createUser();
  const foreignJwt = signJwt(stranger, strangerUser.getPublicKey(), "stranger", UNLIMITED_USER);
  return {
    serverConf: `operator: "${operatorJwt}"\nresolver: MEMORY\nresolver_preload: {\n  ${account.getPublicKey()}: "${accountJwt}"\n}\n`,
    creds: credsText(userJwt, user),
    foreignCreds: credsText(foreignJwt, strangerUser),
  };
}
