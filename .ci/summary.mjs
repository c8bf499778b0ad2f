// Prints CI's closing line, `tests: N passed, N failed`, from vitest's JSON
// report. A test file that fails to load (or whose hooks fail) runs no test
// yet is a failure, so it counts as one; so does a run that failed without
// leaving a report (a build error) or failed with nothing counted (vitest's
// unhandled errors).
// Usage: node .ci/summary.mjs REPORT.json EXIT_STATUS [REPORT.json EXIT_STATUS ...]
import { existsSync, readFileSync } from "node:fs";

// More runs (e.g. the image checks) add their own REPORT STATUS pairs.
const args = process.argv.slice(2);

let passed = 0;
let failed = 0;
const notes = [];
for (let i = 0; i < Math.max(args.length, 1); i += 2) {
  const reportPath = args[i];
  const status = Number(args[i + 1] ?? 1);
  let runFailed = 0;
  if (reportPath && existsSync(reportPath)) {
    const report = JSON.parse(readFileSync(reportPath, "utf8"));
    passed += report.numPassedTests ?? 0;
    runFailed = report.numFailedTests ?? 0;
    for (const file of report.testResults ?? []) {
      if (file.status !== "failed") continue;
      if ((file.assertionResults ?? []).some((a) => a.status === "failed")) continue;
      runFailed++;
      notes.push(`test file failed without a failing test (did not load, or a hook failed): ${file.name}`);
    }
  } else {
    notes.push(`no test report was written to ${reportPath ?? "(none given)"} (the build or the runner failed before tests ran)`);
  }
  if (status !== 0 && runFailed === 0) {
    runFailed = 1;
    notes.push(`a test command exited ${status} with no failing test counted (see its errors above)`);
  }
  failed += runFailed;
}
for (const n of notes) console.log(`== ${n}`);
console.log(`tests: ${passed} passed, ${failed} failed`);
// Any failure counted fails the run, even if the runner's own status said otherwise.
process.exitCode = failed > 0 ? 1 : 0;
