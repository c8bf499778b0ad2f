import { expect, it } from "vitest";

// Throws while the file loads, so vitest runs none of its tests.
if (process.env.PROBE_UNLOADABLE === "1") throw new Error("this file fails to load on purpose");

it("would pass if the file loaded", () => expect(1).toBe(1));
