import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fm18, runScorecard } from '@breakwater/scorecard';
import { afterAll, describe, expect, it } from 'vitest';
import { CLEAN, FOOTGUNS, writeTree } from '../doctor/procTrees.js';
import { DOCTOR_CHECKS, runDoctor } from '../doctor/runDoctor.js';
import { main } from '../main.js';
import type { Io } from '../output.js';
import { CONFIG_SETTLE_TIMEOUT_MS, defaultExport, loadScorecardConfig } from '../scorecard/config.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'bw-scorecard-cmd-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => void out.push(t), err: (t) => void err.push(t), color: false };
  const code = await main(argv, io);
  return { code, out: out.join(''), err: err.join('') };
}

// FM-18 is the fastest real scenario (the doctor on fixture trees): the command is under test here.
describe('breakwater scorecard (in-process)', () => {
  it('--json prints {rows, summary, host} with a row per selected scenario, and writes the HTML', async () => {
    const html = path.join(tmp, 'report.html');
    const { code, out, err } = await run(['scorecard', '--only', 'fm-18', '--json', '--html', html]);
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(Object.keys(report)).toEqual(['rows', 'summary', 'host']);
    expect(Object.keys(report.summary)).toEqual(['passed', 'failed', 'skipped', 'errors', 'durationMs']);
    expect(Object.keys(report.host).sort()).toEqual(['arch', 'cpus', 'hostname', 'netns', 'node', 'platform', 'release', 'startedAt', 'uid']);
    expect(report.rows).toHaveLength(1);
    expect(report.rows[0]).toMatchObject({
      id: 'FM-18',
      verdict: 'pass',
      naive: { value: 0, unit: 'findings', ok: true },
      breakwater: { unit: 'findings', ok: true },
      twin: { value: 0, unit: 'findings', text: '0 on a clean host', ok: true },
      twinExpectation: 'a clean host (every setting sound): no findings',
    });
    expect(report.rows[0].breakwater.value).toBeGreaterThan(10);
    expect(err).toContain('[FM-18] started: Host tuning footguns');
    expect(err).toContain('[FM-18] pass in');
    expect(err).toContain(`HTML report: ${html}`);
    expect(readFileSync(html, 'utf8')).toContain('<tr class="row-pass" id="FM-18">');
  });

  it('prints the table and summary without --json', async () => {
    const { code, out } = await run(['scorecard', '--only', 'FM-18']);
    expect(code).toBe(0);
    expect(out).toMatch(/^FM-18 {2}Host tuning footguns.*pass$/m);
    expect(out).toMatch(/1 passed, 0 failed, 0 skipped, 0 errors in [\d.]+ s\n$/);
  });

  it('exits 2 on an unknown id or a bad --concurrency', async () => {
    const unknown = await run(['scorecard', '--only', 'FM-99', '--json']);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.out).error.message).toMatch(/^Expected `--only` to list registered scenario ids \(.*FM-18.*\), got "FM-99"$/);
    const zero = await run(['scorecard', '--concurrency', '0', '--only', 'FM-18']);
    expect(zero.code).toBe(2);
    expect(zero.err).toMatch(/`--concurrency` to be an integer between 1 and \d+, got 0/);
    expect((await run(['scorecard', '--concurrency', 'many'])).code).toBe(2);
  });

  it('--html into a missing directory is a usage error (exit 2) before any row runs', async () => {
    const { code, out, err } = await run(['scorecard', '--only', 'FM-18', '--json', '--html', path.join(tmp, 'no-such-dir', 'r.html')]);
    expect(code).toBe(2);
    expect(JSON.parse(out).error.message).toMatch(/`--html .*no-such-dir\/r\.html`: its directory .*no-such-dir does not exist/);
    expect(err).not.toContain('[FM-18] started');
  });

  it('a report that cannot be written after the run still prints the table, then the error (exit 3)', async () => {
    // The target passes the check (a new file in a writable directory), but its temp file's name is too long: the write fails.
    const target = path.join(tmp, `${'r'.repeat(245)}.html`);
    const table = await run(['scorecard', '--only', 'FM-18', '--html', target]);
    expect(table.code).toBe(3);
    expect(table.out).toMatch(/^FM-18 {2}Host tuning footguns.*pass$/m);
    expect(table.out).not.toContain('HTML report');
    expect(table.err).toMatch(/could not write the HTML report .*rrr\.html: /);
    const json = await run(['scorecard', '--only', 'FM-18', '--json', '--html', target]);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.out).rows[0].verdict).toBe('pass');
    expect(
      readdirSync(tmp).filter((f) => f.endsWith('.tmp')),
      'the temp file was left behind',
    ).toEqual([]);
  });

  it('--html onto a directory, a link to one or a dangling link is a usage error (exit 2) before any row runs; the link is left alone', async () => {
    const dir = path.join(tmp, 'html-dir');
    mkdirSync(dir, { recursive: true });
    const toDir = path.join(tmp, 'to-dir.html');
    symlinkSync(dir, toDir);
    const dangling = path.join(tmp, 'dangling.html');
    symlinkSync(path.join(tmp, 'nowhere', 'x.html'), dangling);
    const cases: Array<[string, RegExp]> = [
      [dir, /html-dir`: is a directory$/],
      [toDir, /to-dir\.html`: is a symbolic link to .*html-dir, which is a directory$/],
      [dangling, /dangling\.html`: is a symbolic link that resolves to no file \(dangling, or to a pipe or socket, as \/dev\/stdout can\)$/],
    ];
    for (const [target, message] of cases) {
      const { code, out, err } = await run(['scorecard', '--only', 'FM-18', '--json', '--html', target]);
      expect(code, target).toBe(2);
      const error = JSON.parse(out).error;
      expect(error.message).toMatch(message);
      expect(error.hint).toMatch(/regular file/);
      expect(err).not.toContain('[FM-18] started');
    }
    expect(lstatSync(toDir).isSymbolicLink() && lstatSync(dangling).isSymbolicLink()).toBe(true);
  });

  it('--html onto a symbolic link to a regular file writes the file it points to and keeps the link', async () => {
    const real = path.join(tmp, 'real-report.html');
    writeFileSync(real, 'old');
    const link = path.join(tmp, 'link-report.html');
    symlinkSync(real, link);
    const { code, err } = await run(['scorecard', '--only', 'FM-18', '--json', '--html', link]);
    expect(code).toBe(0);
    expect(err).toContain(`HTML report: ${real}`);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, 'utf8')).toContain('<tr class="row-pass" id="FM-18">');
  });

  it('--config: the default export (object, function or promise) runs every selected scenario; host rows say it is not applied', async () => {
    const asObject = path.join(tmp, 'object.config.mjs');
    writeFileSync(asObject, 'export default { socket: { stallTimeoutMs: 12_000 } };\n');
    const asFunction = path.join(tmp, 'function.config.mjs');
    writeFileSync(asFunction, 'export default async () => ({ http: { deadlineMs: 60_000 } });\n');
    const asPromise = path.join(tmp, 'promise.config.mjs');
    writeFileSync(asPromise, 'export default Promise.resolve({ http: { deadlineMs: 60_000 } });\n');
    for (const file of [asObject, asFunction, asPromise]) {
      const { code, out } = await run(['scorecard', '--only', 'FM-18', '--json', '--config', file]);
      expect(code).toBe(0);
      const row = JSON.parse(out).rows[0];
      expect(row.verdict).toBe('pass');
      expect(row.notes).toContainEqual(expect.stringMatching(/^your config is not applied to this row: a host-level row/));
    }
  });

  it('--config: a missing file, a bad export or an invalid option is a usage error (exit 2) naming it', async () => {
    const write = (name: string, text: string) => {
      const file = path.join(tmp, name);
      writeFileSync(file, text);
      return file;
    };
    const cases: [string, RegExp][] = [
      [path.join(tmp, 'missing.mjs'), /missing\.mjs`: no such file/],
      [write('syntax.mjs', 'export default {'), /syntax\.mjs`: could not be loaded/],
      [write('none.mjs', 'export const socket = {};\n'), /none\.mjs`: has no default export/],
      [write('number.mjs', 'export default 42;\n'), /number\.mjs`: expected the default export to be an options object .*got number/],
      [write('throws.mjs', "export default () => { throw new Error('no env'); };\n"), /throws\.mjs`: its default export threw \(or rejected\): no env/],
      [write('bad-key.mjs', 'export default { socket: { stallTimeoutMs: -5 } };\n'), /bad-key\.mjs`: .*`socket\.stallTimeoutMs`/],
      // A promise is awaited (it used to be taken as an empty config: the defaults ran and it exited 0).
      [
        write('promise.mjs', 'export default Promise.resolve({ http: { socket: { stallTimeoutMs: -5 } } });\n'),
        /promise\.mjs`: .*`http\.socket\.stallTimeoutMs`/,
      ],
      [write('map.mjs', 'export default new Map([["socket", {}]]);\n'), /map\.mjs`: .*got a Map, not a plain options object/],
      // An empty file loads as CommonJS with `module.exports` {}: not a config of defaults, a file that exports nothing.
      [write('empty.cjs', ''), /empty\.cjs`: the file exports nothing \(no default export\)/],
      [write('empty.mjs', ''), /empty\.mjs`: the file exports nothing \(no default export\)/],
      [write('getter.mjs', "export default { get socket() { throw new Error('getter boom'); } };\n"), /getter\.mjs`: reading its options threw: getter boom/],
      [write('half-preset.mjs', 'export default { preset: { http: { junk: 1 }, loadBalancer: {} } };\n'), /half-preset\.mjs`: .*`preset\.socket` is missing/],
      [
        write('addresses.mjs', "export default { pool: { socket: { addresses: ['192.0.2.1'] } } };\n"),
        /addresses\.mjs`: .*`pool\.socket\.addresses` is the scenario's/,
      ],
      [write('layers.mjs', 'export default { http: { layers: () => 42 } };\n'), /layers\.mjs`: .*`http\.layers`/],
      [write('budget.mjs', 'export default { http: { retryBudget: { ratioo: 0.5 } } };\n'), /budget\.mjs`: .*`http\.retryBudget\.ratioo`/],
    ];
    for (const [file, message] of cases) {
      const { code, out } = await run(['scorecard', '--only', 'FM-18', '--json', '--config', file]);
      expect(code, file).toBe(2);
      expect(JSON.parse(out).error.message).toMatch(message);
    }
  });
});

describe('loadScorecardConfig', () => {
  const write = (name: string, text: string) => {
    const file = path.join(tmp, name);
    writeFileSync(file, text);
    return file;
  };

  it('a default export (or a load) that never settles is a usage error after the timeout, not a hang', async () => {
    const never = write('never.mjs', 'export default new Promise(() => {});\n');
    await expect(loadScorecardConfig(never, tmp, 50)).rejects.toMatchObject({
      code: 'BW_ERR_INVALID_OPTION',
      message: expect.stringMatching(/never\.mjs`: its default export never settled within 0\.05 s/),
    });
    const neverFn = write('never-fn.mjs', 'export default async () => new Promise(() => {});\n');
    await expect(loadScorecardConfig(neverFn, tmp, 50)).rejects.toThrow(/never settled within 0\.05 s/);
    const tla = write('tla.mjs', 'await new Promise(() => {});\nexport default {};\n');
    await expect(loadScorecardConfig(tla, tmp, 50)).rejects.toThrow(/tla\.mjs`: did not finish loading within 0\.05 s/);
    expect(CONFIG_SETTLE_TIMEOUT_MS).toBe(30_000);
  });

  it("unwraps a CommonJS file's `exports.default`; an empty CommonJS file exports nothing", async () => {
    const cjs = write('exports-default.cjs', 'exports.default = { socket: { stallTimeoutMs: 12_000 } };\n');
    expect(await loadScorecardConfig(cjs, tmp)).toEqual({ socket: { stallTimeoutMs: 12_000 } });
    // The namespaces as Node itself gives them (vitest's loader unwraps `default` on its own).
    const options = { socket: { stallTimeoutMs: 12_000 } };
    expect(defaultExport('x.cjs', { default: { default: options }, 'module.exports': { default: options } })).toBe(options);
    expect(defaultExport('x.mjs', { default: { default: options } })).toEqual({ default: options });
    expect(() => defaultExport('/dev/null', { default: {}, 'module.exports': {} })).toThrow(/`--config \/dev\/null`: the file exports nothing/);
    expect(() => defaultExport('x.mjs', {})).toThrow(/the file exports nothing/);
    expect(() => defaultExport('x.mjs', { socket: {} })).toThrow(/has no default export/);
  });

  it('prints a usage error’s hint on stderr without --json too', async () => {
    const file = write('hint.mjs', 'export default { socket: { stallTimeoutMs: -5 } };\n');
    const { code, err } = await run(['scorecard', '--only', 'FM-18', '--config', file]);
    expect(code).toBe(2);
    expect(err).toMatch(/`socket\.stallTimeoutMs`[^\n]*\nhint: /);
  });
});

describe('FM-18 healthy twin', () => {
  it('fails the row when the doctor is too eager: a planned 1,000,000 connections/s flags the clean host', async () => {
    const eager = fm18({
      checks: DOCTOR_CHECKS,
      async diagnose(tree, dir) {
        const root = writeTree(dir, tree === 'footguns' ? FOOTGUNS : CLEAN);
        return runDoctor({ procRoot: path.join(root, 'proc'), etcRoot: path.join(root, 'etc'), connRate: 1_000_000 });
      },
    });
    const [row] = (await runScorecard([eager])).rows;
    expect(row).toMatchObject({ verdict: 'fail', naive: { ok: true }, breakwater: { ok: true }, twin: { ok: false } });
    expect(row!.twin!.value).toBeGreaterThan(0);
    expect(row!.reason).toMatch(
      /^the defence fired on healthy traffic \(healthy twin: a clean host \(every setting sound\): no findings; got: \d+ on a clean host: .*ip-local-port-range/,
    );
  });
});
