/** Literals read back as the same string under either standard_conforming_strings setting. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { quoteLiteral, SAFE_SESSION_OPTIONS } from "./literal.js";

const PG_URL = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const HOSTILE = ["it's", "\\'; SELECT 1; --", "back\\slash", "\\", "'", "\\\\''", "tab\there\nnewline", "E'x'", "$$dollar$$", "🐟 ünï"];

describe("quoteLiteral", () => {
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
  });
  afterAll(() => client.end());

  it("escapes backslashes and quotes in an E'' literal and drops NUL", () => {
    expect(quoteLiteral("it's")).toBe("E'it''s'");
    expect(quoteLiteral("a\\b")).toBe("E'a\\\\b'");
    expect(quoteLiteral("a\u0000b")).toBe("E'ab'");
  });

  for (const setting of ["on", "off"]) {
    it(`round-trips hostile strings with standard_conforming_strings = ${setting}`, async () => {
      await client.query(`SET standard_conforming_strings = ${setting}`);
      for (const s of HOSTILE) {
        const r = await client.query<{ v: string }>(`SELECT ${quoteLiteral(s)} AS v`);
        expect(r.rows).toEqual([{ v: s }]);
      }
    });
  }

  it("pins standard_conforming_strings on through the startup options, over a role-level off", async () => {
    const role = `lit_scs_off_${process.pid}`;
    await client.query(`DROP ROLE IF EXISTS ${role}`);
    await client.query(`CREATE ROLE ${role} LOGIN`);
    await client.query(`ALTER ROLE ${role} SET standard_conforming_strings = off`);
    try {
      const u = new URL(PG_URL);
      const read = async (options?: string) => {
        const c = new pg.Client({ host: u.hostname, port: Number(u.port || 5432), database: u.pathname.slice(1), user: role, options });
        await c.connect();
        try {
          return (await c.query<{ v: string }>("SELECT current_setting($$standard_conforming_strings$$) AS v")).rows[0]!.v;
        } finally {
          await c.end();
        }
      };
      expect(await read()).toBe("off");
      expect(await read(SAFE_SESSION_OPTIONS)).toBe("on");
    } finally {
      await client.query(`DROP ROLE IF EXISTS ${role}`);
    }
  });
});
