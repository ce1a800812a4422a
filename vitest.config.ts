import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests run against the TypeScript sources of every package (no build needed);
// published consumers get dist/ through each package's exports map.
const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));
const alias = readdirSync(packagesDir).map((name) => ({
  find: new RegExp(`^@breakwater/${name}$`),
  replacement: `${packagesDir}${name}/src/index.ts`,
}));

// One JSON report per run; .ci/run names them (node24, node22).
const reportFile = `.reports/vitest-${process.env.BREAKWATER_REPORT ?? `node${process.versions.node.split('.')[0]}`}.json`;

export default defineConfig({
  resolve: { alias },
  test: {
    reporters: ['default', ['json', { outputFile: reportFile }]],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts'],
          testTimeout: 10_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          // Kernel scenarios mostly wait on TCP timers: run them side by side.
          testTimeout: 120_000,
          hookTimeout: 60_000,
          maxWorkers: 8,
          globalSetup: ['test/faults/globalSetup.ts'],
        },
      },
    ],
  },
});
