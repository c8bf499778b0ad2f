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

  it("pins standard_conforming_strings on and client_encoding UTF8 through the startup options, over a role default", async () => {
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
          const settings = await c.query<{ s: string; e: string }>(
            "SELECT current_setting($$standard_conforming_strings$$) AS s, current_setting($$client_encoding$$) AS e",
          );
          // U+00C1 is C3 81 in UTF-8; SJIS reads 81 plus the escaping backslash as one character.
          const hostile = "\u00c1\\'; SELECT 1; --";
          const back = await c.query<{ v: string }>(`SELECT ${quoteLiteral(hostile)} AS v`).then(
            (r) => r.rows[0]!.v === hostile,
            () => false,
          );
          return { ...settings.rows[0]!, roundTrip: back };
        } finally {
          await c.end();
        }
      };
      expect(await read()).toEqual({ s: "off", e: "UTF8", roundTrip: true });
      expect(await read(SAFE_SESSION_OPTIONS)).toEqual({ s: "on", e: "UTF8", roundTrip: true });
    } finally {
      await client.query(`DROP ROLE IF EXISTS ${role}`);
    }
  });

  it("needs client_encoding UTF8: under SJIS a UTF-8 byte swallows the escaping backslash", async () => {
    // Why the encoding is pinned: node-postgres writes UTF-8 without saying so.
    const hostile = "\u00c1\\'; SELECT 1; --";
    await client.query("SET client_encoding = 'SJIS'");
    try {
      const same = await client.query<{ v: string }>(`SELECT ${quoteLiteral(hostile)} AS v`).then(
        (r) => (r as unknown as { rows?: Array<{ v: string }> }).rows?.[0]?.v === hostile,
        () => false,
      );
      expect(same).toBe(false);
    } finally {
      await client.query("SET client_encoding = 'UTF8'");
    }
    expect((await client.query(`SELECT ${quoteLiteral(hostile)} AS v`)).rows).toEqual([{ v: hostile }]);
  });
});
