import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `pnpm docs:api` (scripts/docs-api.mjs) into a temp dir: every package and subpath export gets a page,
// and TypeDoc warnings (a public signature using a type that is not exported, a broken link) fail it.
const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;
const script = join(root, 'scripts/docs-api.mjs');
const packages = readdirSync(join(root, 'packages')).filter((d) => existsSync(join(root, 'packages', d, 'package.json')));
const entryPoints = packages.flatMap((dir) => {
  const pkg = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
  return Object.entries(pkg.exports as Record<string, unknown>)
    .filter(([subpath, target]) => target !== null && subpath !== './package.json' && !subpath.includes('*'))
    .map(([subpath]) => (subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`) as string);
});

const TIMEOUT_MS = 240_000; // TypeDoc type-checks every package: ≈ 15 s alone, much longer on a loaded machine
let out: string;
let result: { stdout: string; stderr: string; code: number };

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'bw-api-'));
  result = await run(process.execPath, [script, out], { cwd: root, timeout: TIMEOUT_MS }).then(
    ({ stdout, stderr }) => ({ stdout, stderr, code: 0 }),
    (err) => ({ stdout: err.stdout, stderr: err.stderr, code: err.code ?? 1 }),
  );
}, TIMEOUT_MS);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('scripts/docs-api.mjs', () => {
  it('runs without TypeDoc warnings', () => {
    expect(result.stderr.replace(/^npm warn .*\n/gm, '')).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`API reference for ${entryPoints.length} entry points`);
  });

  it.each(entryPoints)('has a page for %s', (name) => {
    // TypeDoc's file name for a module: every character outside [a-z0-9] becomes `_`.
    const page = join(out, 'modules', `${name.replace(/[^a-z0-9]/gi, '_')}.html`);
    expect(existsSync(page), page).toBe(true);
    expect(readFileSync(page, 'utf8')).toContain(name);
  });

  it(
    'fails on a public signature that uses a type the entry point does not export',
    async () => {
      const fixture = mkdtempSync(join(tmpdir(), 'bw-api-fixture-'));
      try {
        mkdirSync(join(fixture, 'leaky/src'), { recursive: true });
        writeFileSync(
          join(fixture, 'leaky/package.json'),
          JSON.stringify({ name: '@fixture/leaky', type: 'module', exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' } } }),
        );
        writeFileSync(join(fixture, 'leaky/src/hidden.ts'), 'export interface HiddenOptions { retries: number }\n');
        writeFileSync(
          join(fixture, 'leaky/src/index.ts'),
          "import type { HiddenOptions } from './hidden.js';\n/** Uses a type nobody can import. */\nexport function leak(o: HiddenOptions): number {\n  return o.retries;\n}\n",
        );
        const failed = await run(process.execPath, [script, join(fixture, 'out'), '--packages', fixture], { cwd: root, timeout: TIMEOUT_MS }).then(
          () => undefined,
          (err) => err,
        );
        expect(failed?.code).toBe(1);
        expect(failed.stdout + failed.stderr).toMatch(/HiddenOptions.*not included in the documentation/);
      } finally {
        rmSync(fixture, { recursive: true, force: true });
      }
    },
    TIMEOUT_MS,
  );
});
