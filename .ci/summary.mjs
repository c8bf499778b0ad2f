// Prints CI's closing line, `tests: N passed, N failed`, from vitest's JSON
// report. A test file that fails to load (or whose hooks fail) runs no test
// yet is a failure, so it counts as one; so does a run that failed without
// leaving a report (a build error) or failed with nothing counted (vitest's
// unhandled errors).
// Usage: node .ci/summary.mjs REPORT.json EXIT_STATUS
import { existsSync, readFileSync } from "node:fs";

const [reportPath, statusArg] = process.argv.slice(2);
const status = Number(statusArg ?? 1);

let passed = 0;
let failed = 0;
const notes = [];
if (reportPath && existsSync(reportPath)) {
  const report = JSON.parse(readFileSync(reportPath, "utf8"));
  passed = report.numPassedTests ?? 0;
  failed = report.numFailedTests ?? 0;
  for (const file of report.testResults ?? []) {
    if (file.status !== "failed") continue;
    if ((file.assertionResults ?? []).some((a) => a.status === "failed")) continue;
    failed++;
    notes.push(`test file failed without a failing test (did not load, or a hook failed): ${file.name}`);
  }
} else {
  notes.push("no test report was written (the build or the runner failed before tests ran)");
}
if (status !== 0 && failed === 0) {
  failed = 1;
  if (notes.length === 0) notes.push(`the test command exited ${status} with no failing test counted (see vitest's errors above)`);
}
for (const n of notes) console.log(`== ${n}`);
console.log(`tests: ${passed} passed, ${failed} failed`);
// Any failure counted fails the run, even if the runner's own status said otherwise.
process.exitCode = failed > 0 ? 1 : 0;
