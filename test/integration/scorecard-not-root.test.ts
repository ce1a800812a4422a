import { execFile } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { onPath } from '../../packages/scorecard/src/requirements.js';

// expectScorecard() in a service's CI that does not run as root: the kernel
// rows are skipped with their reason (a test with only kernel rows is marked
// skipped, not passed), and BREAKWATER_REQUIRE_NETNS=1 turns that into a
// failure. Run for real: a vitest child as `nobody` (through setpriv when we
// are root, as ourselves otherwise) on a suite in a temp dir.

const repo = fileURLToPath(new URL('../../', import.meta.url));
const vitest = path.join(repo, 'node_modules/vitest/vitest.mjs');
const root = process.getuid?.() === 0;
const NOBODY = 65_534;
/** Who the child runs as: nobody when we are root, ourselves (already not root) otherwise. */
const uid = root ? NOBODY : process.getuid?.();
const canDrop = !root || onPath('setpriv');

const dir = mkdtempSync(path.join(tmpdir(), 'bw-not-root-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SUITE = `
import { expectScorecard } from ${JSON.stringify(path.join(repo, 'packages/scorecard/src/vitest.ts'))};
const as = 'uid ' + process.getuid();
test('only a kernel row, ' + as, async (ctx) => {
  await expectScorecard({ only: ['FM-02'], ctx });
}, 60_000);
test('a kernel row and FM-17, ' + as, async (ctx) => {
  const report = await expectScorecard({ only: ['FM-02', 'FM-17'], ctx });
  console.log('VERDICTS ' + report.rows.map((r) => r.id + ' ' + r.verdict).join(', '));
}, 60_000);
`;
// No imports in the config: vitest is not resolvable from the temp dir (the suite uses its globals).
const CONFIG = `
import { readdirSync } from 'node:fs';
const packages = ${JSON.stringify(path.join(repo, 'packages/'))};
export default {
  cacheDir: ${JSON.stringify(path.join(dir, '.vite'))},
  resolve: { alias: readdirSync(packages).map((name) => ({ find: new RegExp('^@breakwater/' + name + '$'), replacement: packages + name + '/src/index.ts' })) },
  test: { include: ['not-root.test.mjs'], globals: true },
};
`;

interface ChildResult {
  code: number | string;
  out: string;
  tests: { title: string; status: string; failureMessages: string[] }[];
}

/** The suite run in a vitest child as nobody, in `sub` of the temp dir (owned by nobody: vite writes beside its config). */
function runAsNobody(sub: string, env: Record<string, string>): Promise<ChildResult> {
  const cwd = path.join(dir, sub);
  mkdirSync(cwd);
  writeFileSync(path.join(cwd, 'not-root.test.mjs'), SUITE);
  writeFileSync(path.join(cwd, 'vitest.config.mjs'), CONFIG);
  if (root) for (const p of [dir, cwd, ...readdirSync(cwd).map((f) => path.join(cwd, f))]) chownSync(p, NOBODY, NOBODY);
  const json = path.join(cwd, 'out.json');
  const args = [
    vitest,
    'run',
    '--root',
    cwd,
    '--config',
    path.join(cwd, 'vitest.config.mjs'),
    '--reporter=verbose',
    '--reporter=json',
    `--outputFile.json=${json}`,
  ];
  const [file, argv] = root ? ['setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, ...args]] : [process.execPath, args];
  return new Promise((resolve) => {
    execFile(file, argv, { cwd, timeout: 120_000, env: { PATH: process.env.PATH ?? '', HOME: cwd, NO_COLOR: '1', ...env } }, (err, stdout, stderr) => {
      let tests: ChildResult['tests'] = [];
      try {
        tests = JSON.parse(readFileSync(json, 'utf8')).testResults.flatMap((f: { assertionResults: ChildResult['tests'] }) => f.assertionResults);
      } catch {
        // No report: the assertions below show the output.
      }
      resolve({ code: err === null ? 0 : (err.code ?? 'ERROR'), out: `${stdout}${stderr}`, tests });
    });
  });
}

const REASON = 'FM-02 skipped: needs root, ip and nft (network namespaces): network namespaces and nftables need root, running as uid';
const summary = (tests: ChildResult['tests']) => tests.map((t) => `${t.title}: ${t.status}`).join('; ');

describe.skipIf(!canDrop)('expectScorecard() not as root (a vitest child as nobody)', () => {
  it('skips the kernel row with its reason: a test of only kernel rows is marked skipped, one with FM-17 beside it passes', async () => {
    const { code, out, tests } = await runAsNobody('default', {});
    console.log(`[not-root] ${summary(tests)}`);
    expect(uid).not.toBe(0);
    expect(
      tests.map((t) => [t.title, t.status]),
      out,
    ).toEqual([
      [`only a kernel row, uid ${uid}`, 'skipped'],
      [`a kernel row and FM-17, uid ${uid}`, 'passed'],
    ]);
    // The skip note of the first test and the annotation on each (the verbose reporter prints them).
    expect(out.split(REASON).length - 1, out).toBeGreaterThanOrEqual(3);
    expect(out).toContain('VERDICTS FM-02 skipped, FM-17 pass');
    expect(code).toBe(0);
  }, 150_000);

  it('with BREAKWATER_REQUIRE_NETNS=1 both tests fail, naming the kernel row and why', async () => {
    const { code, out, tests } = await runAsNobody('required', { BREAKWATER_REQUIRE_NETNS: '1' });
    console.log(`[not-root, BREAKWATER_REQUIRE_NETNS=1] ${summary(tests)}`);
    expect(
      tests.map((t) => [t.title, t.status]),
      out,
    ).toEqual([
      [`only a kernel row, uid ${uid}`, 'failed'],
      [`a kernel row and FM-17, uid ${uid}`, 'failed'],
    ]);
    for (const t of tests)
      expect(t.failureMessages.join('\n')).toMatch(
        /scorecard rows failed with this configuration:\nFM-02 Write into a blackhole.*: error: BREAKWATER_REQUIRE_NETNS=1 but needs root, ip and nft/,
      );
    expect(code).toBe(1);
  }, 150_000);
});
