import { expect, it } from "vitest";

it("passes", () => expect(1).toBe(1));
it("fails when asked to", () => expect(process.env.PROBE_FAIL === "1" ? 2 : 1).toBe(1));
