import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A CommonJS service adopting Breakwater: a `.cjs` file in a child `node` that `require()`s every entry
// point of the BUILT packages (`tsc -b` runs before the tests) through their exports maps, as an installed
// package would be found, and uses one export of each. Node >= 22.12 loads ESM from require() when the
// exports map offers a condition CommonJS matches (`default`); our floor is 22.19.
const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;
const packageDirs = readdirSync(join(root, 'packages')).filter((d) => {
  try {
    return JSON.parse(readFileSync(join(root, 'packages', d, 'package.json'), 'utf8')).exports !== undefined;
  } catch {
    return false;
  }
});

/** One use per entry point: an expression over `m`, the required module, that must evaluate to `true`. */
const USES: Record<string, string> = {
  '@breakwater/core': "new m.BreakwaterError('BW_ERR_INVALID_OPTION', 'x') instanceof m.BreakwaterError",
  '@breakwater/socket': "typeof m.SOCKET_DEFAULTS.connectTimeoutMs === 'number'",
  '@breakwater/retry': 'new m.RetryBudget().tryRetry() === true',
  '@breakwater/circuit': "typeof m.CIRCUIT_DEFAULTS.attemptTimeoutMs === 'number'",
  '@breakwater/pool': "typeof m.POOL_DEFAULTS.max === 'number'",
  '@breakwater/ack': "m.isNack(new Error('x')) === false",
  '@breakwater/ack/pg': "typeof m.createPgDedupStore === 'function'",
  '@breakwater/chaos': "typeof m.FAULT_PROXY_DEFAULTS === 'object'",
  '@breakwater/presets': "m.resolvePreset({ infra: 'aws-alb' }).http.keepAliveTimeoutMs < 60000",
  '@breakwater/http': "typeof m.createClient === 'function' && m.HTTP_DEFAULTS.connections > 0",
  '@breakwater/http/otel': "typeof m.HTTP_METRICS === 'object'",
  '@breakwater/drivers': "typeof m.DRIVER_DEFAULTS === 'object'",
  '@breakwater/drivers/pg': "typeof m.createPgPool === 'function'",
  '@breakwater/drivers/ioredis': "typeof m.createRedis === 'function'",
  '@breakwater/drivers/mysql2': "typeof m.isIdempotentStatement === 'function'",
  '@breakwater/scorecard': "m.SCORECARD_DEFAULTS.concurrency > 0 && typeof m.createScenarios === 'function'",
  '@breakwater/scorecard/vitest': "typeof m.expectScorecard === 'function' && m.LIBRARY_SCENARIOS.length === 21",
  '@breakwater/cli': "m.parseTarget('127.0.0.1:80').port === 80",
};

/** Every entry point a package's exports map offers (not `./package.json`, not the blocked `./internal/*`). */
function entryPoints(dir: string): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
  return Object.entries(pkg.exports as Record<string, unknown>)
    .filter(([k, v]) => v !== null && k !== './package.json')
    .map(([k]) => (k === '.' ? pkg.name : `${pkg.name}/${k.slice(2)}`));
}

let consumer: string;
beforeAll(() => {
  // A project of its own, outside the workspace: node_modules/@breakwater/<name> → the package dir, as
  // a link-installed dependency (each package then finds its own dependencies from its real path).
  consumer = mkdtempSync(join(tmpdir(), 'bw-cjs-'));
  mkdirSync(join(consumer, 'node_modules/@breakwater'), { recursive: true });
  for (const d of packageDirs) symlinkSync(join(root, 'packages', d), join(consumer, 'node_modules/@breakwater', d), 'dir');
  // The control: the exports map these packages had before, `import` only.
  mkdirSync(join(consumer, 'node_modules/esm-import-only'));
  writeFileSync(
    join(consumer, 'node_modules/esm-import-only/package.json'),
    JSON.stringify({ name: 'esm-import-only', type: 'module', exports: { '.': { import: './index.js' } } }),
  );
  writeFileSync(join(consumer, 'node_modules/esm-import-only/index.js'), 'export const x = 1;\n');
});
afterAll(() => rmSync(consumer, { recursive: true, force: true }));

async function requireFromCjs(specifier: string, use: string): Promise<{ ok: boolean; out: string }> {
  const file = join(consumer, `use-${specifier.replace(/[@/]/g, '_')}.cjs`);
  writeFileSync(
    file,
    `'use strict';\nconst m = require(${JSON.stringify(specifier)});\nif (!(${use})) throw new Error('use failed');\nconsole.log('ok', Object.keys(m).length);\n`,
  );
  return run(process.execPath, [file], { cwd: consumer, timeout: 30_000 }).then(
    ({ stdout }) => ({ ok: true, out: stdout }),
    (err) => ({ ok: false, out: `${err.stdout}${err.stderr}` }),
  );
}

describe('CommonJS consumers (require(esm), Node >= 22.12)', () => {
  it('every entry point of every package has a use here', () => {
    expect(packageDirs.flatMap(entryPoints).sort()).toEqual(Object.keys(USES).sort());
  });

  it.each(Object.entries(USES))('require(%s) loads the built package and one export works', async (specifier, use) => {
    const { ok, out } = await requireFromCjs(specifier, use);
    expect(out).toMatch(/^ok \d+/);
    expect(ok).toBe(true);
  });

  it('control: an exports map with only `import` cannot be required (what the packages had before)', async () => {
    const { ok, out } = await requireFromCjs('esm-import-only', 'm.x === 1');
    expect(ok).toBe(false);
    expect(out).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });
});
