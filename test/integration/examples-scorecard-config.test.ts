import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The example's own vitest suite (examples/scorecard-config/scorecard.test.mjs), run the way a service's CI
// runs it: its vitest, against the compiled packages (the test command builds first), through the
// `@breakwater/scorecard/vitest` export map entry.
const dir = fileURLToPath(new URL('../../examples/scorecard-config/', import.meta.url));
const vitest = fileURLToPath(new URL('../../examples/scorecard-config/node_modules/vitest/vitest.mjs', import.meta.url));

function run(): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [vitest, 'run', '--reporter=verbose', '--no-color'],
      { cwd: dir, timeout: 180_000, env: { ...process.env, NODE_OPTIONS: '', NO_COLOR: '1', FORCE_COLOR: '' } },
      (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, out: `${stdout}${stderr}` }),
    );
  });
}

describe('examples/scorecard-config: expectScorecard() in a user test suite', () => {
  it('the sound configuration passes FM-07 (and FM-02 as root, skipped with its reason otherwise); the defeating one fails FM-07 with the message', async () => {
    const { code, out } = await run();
    expect(out, out).toMatch(/✓ .*scorecard\.test\.mjs > our configuration still catches/);
    expect(out, out).toMatch(/✓ .*scorecard\.test\.mjs > a configuration that drops the retry layer/);
    expect(out).toMatch(/Tests {2}2 passed \(2\)/);
    expect(code).toBe(0);
  }, 180_000);

  // pnpm links a workspace bin at install, before the build makes packages/cli/dist/bin.js: a fresh clone has no
  // node_modules/.bin/breakwater here, so the README's scripts run the built bin by its path (--help: no scenario runs).
  it.each(['sound', 'defeated'])(
    '`pnpm run %s` runs the CLI from a fresh clone (no `breakwater` bin linked)',
    async (script) => {
      const { code, out } = await new Promise<{ code: number; out: string }>((resolve) => {
        execFile('pnpm', ['run', script, '--help'], { cwd: dir, timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) =>
          resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, out: `${stdout}${stderr}` }),
        );
      });
      expect(out, out).toContain('Usage: breakwater scorecard [options]');
      expect(code).toBe(0);
    },
    60_000,
  );
});
