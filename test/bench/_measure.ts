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

export interface Rate {
  docs: number;
  bytes: number;
  seconds: number;
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** One result line: docs/s and MB/s of `measured` beside the `ceiling`, and their ratio. */
export function report(label: string, measured: Rate, ceiling: Rate, extra = ""): void {
  const dps = measured.docs / measured.seconds;
  const cps = ceiling.docs / ceiling.seconds;
  const mbs = measured.bytes / measured.seconds / 1e6;
  const cmbs = ceiling.bytes / ceiling.seconds / 1e6;
  process.stdout.write(
    `${label}: ${fmt(dps)} docs/s, ${fmt(mbs, 1)} MB/s | ceiling ${fmt(cps)} docs/s, ${fmt(cmbs, 1)} MB/s | ratio ${(dps / cps).toFixed(2)}${extra ? " | " + extra : ""}\n`,
  );
}
