/**
 * The TLS settings both MySQL connectors take under `advanced`, declared once
 * so the capture and the materialization offer the same modes with the same
 * words.
 */
import { Multiline, StringEnum, Type } from "../sdk/schema.js";
import { MYSQL_SSL_MODES } from "./connect.js";

export const mysqlTlsProperties = {
  sslmode: Type.Optional(
    StringEnum(MYSQL_SSL_MODES, {
      title: "SSL Mode",
      description:
        "preferred (the default) uses TLS when the server offers it; required insists on TLS; verify_ca also checks the certificate chain against the root certificate; verify_identity also checks the host name; disabled connects in plain text.",
    }),
  ),
  sslrootcert: Type.Optional(Multiline({ title: "SSL Root Certificate", description: "PEM certificate of the CA for verify_ca and verify_identity." })),
};
