/** Credentials in URL-like text never reach a log line or a returned error, at any level. */
import { describe, expect, it } from "vitest";
import { createLogger, redactSecrets } from "../../src/log.js";
import { ConnectorError, describeError } from "../../src/sdk/errors.js";
import { parseConfig } from "../../src/sdk/config.js";

const S = "Zq8s3cret";

describe("redactSecrets", () => {
  it("redacts the password of URLs, user:password@host, and password-like parameters", () => {
    expect(redactSecrets(`postgres://flow:${S}@db.example.com:5432/app`)).toBe("postgres://flow:<redacted>@db.example.com:5432/app");
    expect(redactSecrets(`at rediss://:${S}@cache:6380 now`)).toBe("at rediss://:<redacted>@cache:6380 now");
    expect(redactSecrets(`https://${S}@github.com/x`)).toBe("https://<redacted>@github.com/x");
    expect(redactSecrets(`postgres://u:p@${S}@host/db`)).toBe("postgres://u:<redacted>@host/db");
    expect(redactSecrets(`cannot connect to flow:${S}@127.0.0.1:1`)).toBe("cannot connect to flow:<redacted>@127.0.0.1:1");
    expect(redactSecrets(`host=db password=${S} user=flow`)).toBe("host=db password=<redacted> user=flow");
    expect(redactSecrets(`https://h/x?token=${S}&a=1`)).toBe("https://h/x?token=<redacted>&a=1");
    for (const plain of ["user@example.com", "a=b", "ts=2024-01-01T00:00:00Z", "127.0.0.1:5432", "[::1]:5432"]) expect(redactSecrets(plain)).toBe(plain);
  });

  it("applies to the message and every nested field at every level, in JSON and text formats", () => {
    for (const format of ["json", "text"]) {
      const lines: string[] = [];
      const log = createLogger({ level: "trace", format, write: (l) => lines.push(l) }).with({ address: `redis://u:${S}@h` });
      for (const level of ["trace", "debug", "info", "warn", "error"] as const) {
        log[level](`connecting to postgres://u:${S}@h/db`, { config: { nested: [{ url: `mysql://u:${S}@h` }] }, err: new Error(`x password=${S}`) });
      }
      expect(lines).toHaveLength(5);
      log.info("dated", { at: new Date(0) });
      expect(lines.pop()).toContain("1970-01-01T00:00:00.000Z");
      for (const l of lines) {
        expect(l).not.toContain(S);
        expect(l).toContain("<redacted>");
      }
    }
  });

  it("applies to errors returned to the runtime", () => {
    expect(describeError(new ConnectorError(`cannot reach postgres://u:${S}@h`))).toBe("cannot reach postgres://u:<redacted>@h");
    expect(describeError(new Error(`boom https://x:${S}@h`))).not.toContain(S);
  });

  it("does not quote malformed config text, which may hold a password", () => {
    for (const text of [`{"address":"h","password": ${S}}`, `{"password": "${S}" "x": 1}`, `{"password":"${S}`]) {
      let message = "";
      try {
        parseConfig({ type: "object" }, text, "endpoint config");
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/^endpoint config is not valid JSON: /);
      expect(message).not.toContain(S);
    }
  });
});
