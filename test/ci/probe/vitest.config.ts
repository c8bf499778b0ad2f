import { defineConfig } from "vitest/config";

// Probe files for test/ci/summary.test.ts; the project's own config never includes them.
export default defineConfig({ test: { include: ["*.probe.ts"], pool: "forks", maxWorkers: 1 } });
