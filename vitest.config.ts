import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests run against the TypeScript sources of every package (no build needed);
// published consumers get dist/ through each package's exports map.
const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));
const alias = [
  ...readdirSync(packagesDir).map((name) => ({
    find: new RegExp(`^@breakwater/${name}$`),
    replacement: `${packagesDir}${name}/src/index.ts`,
  })),
  // Subpath exports imported by another package's sources (the scorecard's DC-04).
  { find: /^@breakwater\/drivers\/pg$/, replacement: `${packagesDir}drivers/src/pg.ts` },
];

// One JSON report per run; .ci/run names them (node24, node22).
const reportFile = `.reports/vitest-${process.env.BREAKWATER_REPORT ?? `node${process.versions.node.split('.')[0]}`}.json`;

// Files that assert latency percentiles or timer accuracy: they run one at a
// time in their own project, while the rest of integration and faults run
// side by side. Each project has its own sequence.groupOrder, so projects run
// one after another (faults, scorecard, integration, timing, unit). FM-04 needs no root.
const TIMING = [
  'test/faults/fm-04-nagle.test.ts',
  'test/integration/fm-07-stale-pooled.test.ts',
  'test/integration/fm-12-circuit.test.ts',
  'test/integration/fm-13-dns.test.ts',
  'test/integration/fm-14-gray-failure.test.ts',
  'test/integration/fm-15-clock-jump.test.ts',
  'test/integration/scorecard-transport.test.ts',
  'test/integration/scorecard-resilience.test.ts',
  'test/integration/scorecard-twins-timing.test.ts',
  // Not timing-sensitive, but CPU-bound (20,000 connections in two children): beside three other files a
  // loaded Node 22 run took longer than its 180 s budget.
  'test/integration/issue-13-origin-state.test.ts',
  'test/integration/examples-scorecard-config.test.ts',
];

/** `breakwater scorecard --json --html` end to end, as root. */
const SCORECARD = 'test/faults/scorecard.test.ts';

export default defineConfig({
  resolve: { alias },
  test: {
    reporters: ['default', ['json', { outputFile: reportFile }]],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          sequence: { groupOrder: 4 },
          include: ['packages/*/src/**/*.test.ts'],
          testTimeout: 10_000,
          maxWorkers: 2,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          sequence: { groupOrder: 2 },
          include: ['test/integration/**/*.test.ts'],
          exclude: TIMING,
          testTimeout: 30_000,
          // Mostly waiting on real servers and frozen processes: side by side.
          maxWorkers: 4,
        },
      },
      {
        extends: true,
        test: {
          name: 'timing',
          sequence: { groupOrder: 3 },
          include: TIMING,
          testTimeout: 30_000,
          // Latency percentiles and timer accuracy: one file at a time, no neighbours.
          maxWorkers: 1,
        },
      },
      {
        extends: true,
        test: {
          name: 'faults',
          sequence: { groupOrder: 0 },
          include: ['test/faults/**/*.test.ts'],
          exclude: [...TIMING, SCORECARD],
          // Kernel scenarios mostly wait on TCP timers: run them side by side.
          testTimeout: 120_000,
          hookTimeout: 60_000,
          maxWorkers: 8,
          globalSetup: ['test/faults/globalSetup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'scorecard',
          sequence: { groupOrder: 1 },
          include: [SCORECARD],
          // The whole CLI scorecard (its own scenarios run concurrently, the
          // timing-sensitive ones alone): no other test file beside it.
          testTimeout: 360_000,
          hookTimeout: 120_000,
          maxWorkers: 1,
        },
      },
    ],
  },
});
