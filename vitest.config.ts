import { resolve } from "node:path";
import { defineConfig } from "vitest/config";

/**
 * Tests that import the package by name ("pg-durable", "pg-durable/duroxide") get the sources, or,
 * with PGD_PACKAGE_DIR set to an installed copy (.ci/consumers.sh points it at the packed tarball
 * installed in a consumer project), that copy's built dist/.
 */
const packageDir = process.env.PGD_PACKAGE_DIR;
const entry = (source: string, built: string) =>
  packageDir ? resolve(packageDir, "dist", built) : resolve(import.meta.dirname, "src", source);

export default defineConfig({
  resolve: {
    alias: [
      { find: /^pg-durable\/duroxide$/, replacement: entry("duroxide/index.ts", "duroxide/index.js") },
      { find: /^pg-durable$/, replacement: entry("index.ts", "index.js") },
    ],
  },
  test: {
    globalSetup: ["./src/testing/global-setup.ts"],
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Most tests wait on lock expiry rather than CPU, so more files than cores can run at once.
    maxWorkers: 4,
  },
});
