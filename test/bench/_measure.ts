/** Shared bits of the benchmark scripts: process memory and result lines. */
import { readFileSync } from "node:fs";

/** Peak resident memory of a live process, in MB (Linux VmHWM). */
export function peakRssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) a live process has used so far (Linux /proc). */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
  } catch {
    return NaN;
  }
}

export interface Rate {
  docs: number;
  bytes: number;
  seconds: number;
}

/**
 * The machine-readable twin of a result line, for the runner (run.ts), which
 * sets RESULT_ENV and takes these lines out of what it shows.
 */
export interface Measurement {
  label: string;
  docsPerSec: number;
  mbPerSec: number;
  ceilingDocsPerSec: number;
  ceilingMbPerSec: number;
  ratio: number;
  /** Peak RSS of the measured process in MB, when the benchmark took it. */
  rssMb: number | null;
}

/** Set by the runner: scripts then also print one `RESULT_PREFIX` JSON line per result. */
export const RESULT_ENV = "TRIBUTARY_BENCH_RESULTS";
export const RESULT_PREFIX = "@bench-result ";

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/**
 * One result line: docs/s and MB/s of `measured` beside the `ceiling`, and
 * their ratio. `rssMb` is the peak RSS already named in `extra`, passed apart
 * for the machine-readable line.
 */
export function report(label: string, measured: Rate, ceiling: Rate, extra = "", rssMb?: number): void {
  const dps = measured.docs / measured.seconds;
  const cps = ceiling.docs / ceiling.seconds;
  const mbs = measured.bytes / measured.seconds / 1e6;
  const cmbs = ceiling.bytes / ceiling.seconds / 1e6;
  process.stdout.write(
    `${label}: ${fmt(dps)} docs/s, ${fmt(mbs, 1)} MB/s | ceiling ${fmt(cps)} docs/s, ${fmt(cmbs, 1)} MB/s | ratio ${(dps / cps).toFixed(2)}${extra ? " | " + extra : ""}\n`,
  );
  if (process.env[RESULT_ENV]) {
    const m: Measurement = {
      label,
      docsPerSec: dps,
      mbPerSec: mbs,
      ceilingDocsPerSec: cps,
      ceilingMbPerSec: cmbs,
      ratio: dps / cps,
      rssMb: rssMb !== undefined && Number.isFinite(rssMb) ? rssMb : null,
    };
    process.stdout.write(RESULT_PREFIX + JSON.stringify(m) + "\n");
  }
}

/** The median of some numbers (NaN for none). */
export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** A table of the per-measurement medians over several runs. */
export function medianTable(runs: number, results: Measurement[]): string {
  const byLabel = new Map<string, Measurement[]>();
  for (const r of results) byLabel.set(r.label, [...(byLabel.get(r.label) ?? []), r]);
  const head = ["measurement", "runs", "docs/s", "MB/s", "ceiling docs/s", "ceiling MB/s", "ratio", "peak RSS MB"];
  const rows = [...byLabel].map(([label, ms]) => {
    const med = (f: (m: Measurement) => number | null) => median(ms.map((m) => f(m) ?? NaN));
    const rss = med((m) => m.rssMb);
    return [
      label,
      `${ms.length}/${runs}`,
      fmt(med((m) => m.docsPerSec)),
      fmt(med((m) => m.mbPerSec), 1),
      fmt(med((m) => m.ceilingDocsPerSec)),
      fmt(med((m) => m.ceilingMbPerSec), 1),
      med((m) => m.ratio).toFixed(2),
      Number.isFinite(rss) ? fmt(rss) : "-",
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n") + "\n";
}
