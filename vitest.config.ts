import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "connectors/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["node_modules/**", "dist/**"],
    // Generous: crash-loop tests spawn a dozen processes and take ~15 s on a
    // quiet machine but near a minute on a loaded one; a hang still fails.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: "forks",
    // Integration tests start processes and databases; two cores are all we have.
    maxWorkers: 2,
  },
});
