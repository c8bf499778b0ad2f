// Named with a leading "_" so the bench runner does not take it for a benchmark.
import { afterEach, describe, expect, it, vi } from "vitest";
import { median, medianTable, report, RESULT_ENV, RESULT_PREFIX, type Measurement } from "./_measure.js";

const m = (docsPerSec: number, ratio: number, rssMb: number | null): Measurement => ({
  label: "store",
  docsPerSec,
  mbPerSec: docsPerSec / 1000,
  ceilingDocsPerSec: docsPerSec / ratio,
  ceilingMbPerSec: 1,
  ratio,
  rssMb,
});

describe("bench results", () => {
  afterEach(() => {
    vi.restoreAllMocks();
    delete process.env[RESULT_ENV];
  });

  it("takes the middle value, or the mean of the two middle ones, skipping missing values", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([NaN, 5])).toBe(5);
    expect(median([])).toBeNaN();
  });

  it("prints one median row per measurement, counting the runs that produced it", () => {
    const table = medianTable(3, [m(100_000, 0.5, 90), m(300_000, 0.9, 110), m(200_000, 0.7, null)]);
    const row = table.split("\n").find((l) => l.startsWith("store"))!;
    expect(row.split(/\s{2,}/)).toEqual(["store", "3/3", "200,000", "200.0", "285,714", "1.0", "0.70", "100"]);
  });

  it("adds a machine-readable line only when the runner asks for it, the human line unchanged", () => {
    const out: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((s) => (out.push(String(s)), true));
    const rate = { docs: 1000, bytes: 2e6, seconds: 1 };
    const ceiling = { docs: 2000, bytes: 4e6, seconds: 1 };
    report("x", rate, ceiling, "peak RSS 42 MB", 42);
    process.env[RESULT_ENV] = "1";
    report("x", rate, ceiling, "peak RSS 42 MB", 42);
    expect(out[0]).toBe("x: 1,000 docs/s, 2.0 MB/s | ceiling 2,000 docs/s, 4.0 MB/s | ratio 0.50 | peak RSS 42 MB\n");
    expect(out[1]).toBe(out[0]);
    expect(out[2]!.startsWith(RESULT_PREFIX)).toBe(true);
    expect(JSON.parse(out[2]!.slice(RESULT_PREFIX.length))).toEqual({
      label: "x", docsPerSec: 1000, mbPerSec: 2, ceilingDocsPerSec: 2000, ceilingMbPerSec: 4, ratio: 0.5, rssMb: 42,
    });
    expect(out).toHaveLength(3);
  });
});
