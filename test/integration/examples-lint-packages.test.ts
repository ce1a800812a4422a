import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `pnpm lint:packages` (scripts/lint-packages.mjs): publint and attw (node16 + require(esm)) on the tarball each
// package would publish. Needs the build (`tsc -b`, run before the tests): the tarball holds dist/.
const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;
const script = join(root, 'scripts/lint-packages.mjs');
const packages = readdirSync(join(root, 'packages'))
  .filter((d) => existsSync(join(root, 'packages', d, 'package.json')))
  .sort();

const TIMEOUT_MS = 300_000; // two `pnpm pack` at a time: ≈ 20 s alone, minutes on a loaded machine
let fixture: string;
let output: string;
let code: number;

beforeAll(async () => {
  // A package that is wrong in the ways publint and attw exist for: `types` after `import`, and entry
  // points whose files were never built. Linted with the real ones, so a linter that passes anything fails here.
  fixture = mkdtempSync(join(tmpdir(), 'bw-lint-fixture-'));
  mkdirSync(join(fixture, 'dist'));
  writeFileSync(join(fixture, 'dist/index.js'), 'export const x = 1;\n');
  writeFileSync(
    join(fixture, 'package.json'),
    JSON.stringify({
      name: 'broken-fixture',
      version: '1.0.0',
      type: 'module',
      exports: { '.': { import: './dist/index.js', types: './dist/index.d.ts' }, './sub': { types: './dist/sub.d.ts', import: './dist/sub.js' } },
      files: ['dist'],
    }),
  );
  ({ output, code } = await run(process.execPath, [script, ...packages, fixture], { cwd: root, timeout: TIMEOUT_MS }).then(
    ({ stdout }) => ({ output: stdout, code: 0 }),
    (err) => ({ output: `${err.stdout}${err.stderr}`, code: err.code ?? 1 }),
  ));
}, TIMEOUT_MS);
afterAll(() => rmSync(fixture, { recursive: true, force: true }));

describe('scripts/lint-packages.mjs', () => {
  it.each(packages)('packages/%s is clean under publint and attw', (name) => {
    const block = output.split(/\n(?=ok |FAIL )/).find((b) => b.includes(`packages/${name}`) && /^(ok|FAIL) /.test(b));
    expect(block?.trim()).toBe(`ok   packages/${name}: publint, attw (node16, require-esm)`);
  });

  it('reports a broken package and exits 1', () => {
    expect(code).toBe(1);
    expect(output).toContain(`FAIL ${fixture}`);
    expect(output).toMatch(/publint error: pkg\.exports\["\."\]\.types should be the first/);
    expect(output).toMatch(/publint error: pkg\.exports\["\.\/sub"\]\.import is \.\/dist\/sub\.js but the file does not exist/);
    expect(output).toContain(`1 of ${packages.length + 1} package(s) with problems`);
  });
});
