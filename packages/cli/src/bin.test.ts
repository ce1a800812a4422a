import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, lstatSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CLEAN, FOOTGUNS, writeTree } from '../test-fixtures/procTrees.js';
import { DOCTOR_CHECKS } from './doctor/runDoctor.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'bw-bin-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the real bin through the TS loader, as a user's shell would (no TTY, so no color). */
function bin(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  entry = ['--import', './test/support/ts-hooks.ts', 'packages/cli/src/bin.ts'],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...entry, ...args],
      { cwd: repo, env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr }),
    );
  });
}

const fixture = (name: string, tree: Parameters<typeof writeTree>[1]) => {
  const dir = writeTree(path.join(tmp, name), tree);
  return ['--proc', path.join(dir, 'proc'), '--etc', path.join(dir, 'etc')];
};

// Each run starts a Node process (≈ 0.5 s, more on a loaded machine).
describe('breakwater doctor (the real bin)', { timeout: 60_000 }, () => {
  it('--json on the footguns tree: every finding with its fix, exit 1 for errors', async () => {
    const { code, stdout } = await bin(['doctor', '--json', ...fixture('footguns', FOOTGUNS)]);
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(Object.keys(report).sort()).toEqual(['findings', 'passed', 'procRoot', 'skipped', 'summary']);
    expect(report.summary.errors).toBeGreaterThan(0);
    for (const f of report.findings) {
      expect(Object.keys(f).sort()).toEqual(['current', 'failureModes', 'fix', 'id', 'severity', 'title', 'why']);
      expect(['info', 'warning', 'error']).toContain(f.severity);
      expect(Array.isArray(f.fix.commands) && Array.isArray(f.fix.persist)).toBe(true);
    }
    expect(new Set(report.findings.map((f: { id: string }) => f.id)).size).toBe(DOCTOR_CHECKS.length);
  });

  it('exits 0 on the clean tree, and 1 with --fail-on warning only when there are warnings', async () => {
    const args = fixture('clean', CLEAN);
    const { code, stdout } = await bin(['doctor', '--json', ...args]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout).summary).toEqual({ errors: 0, warnings: 0, infos: 0 });
    expect((await bin(['doctor', '--fail-on', 'warning', ...args])).code).toBe(0);
    expect((await bin(['doctor', '--fail-on', 'warning', '--conn-rate', '5000', ...args])).code).toBe(1);
  });

  it('prints a plain human report without a TTY, and colors it with FORCE_COLOR', async () => {
    const args = fixture('human', FOOTGUNS);
    const plain = await bin(['doctor', ...args]);
    expect(plain.stdout).toContain('fix: sysctl -w net.ipv4.tcp_retries2=8');
    expect(plain.stdout).toContain('net.ipv4.tcp_retries2 = 8');
    expect(plain.stdout).not.toContain('\u001b[');
    expect((await bin(['doctor', ...args], { FORCE_COLOR: '1' })).stdout).toContain('\u001b[31m');
    expect((await bin(['doctor', ...args], { FORCE_COLOR: '1', NO_COLOR: '1' })).stdout).not.toContain('\u001b[');
  });

  it('exits 3 when there is no procfs to read, with the error as JSON', async () => {
    const { code, stdout, stderr } = await bin(['doctor', '--json', '--proc', path.join(tmp, 'missing')]);
    expect(code).toBe(3);
    expect(JSON.parse(stdout).error.code).toBe('BW_ERR_UNSUPPORTED');
    expect(stderr).toContain('is not a procfs tree');
  });

  it('exits 2 on usage errors', async () => {
    const runs = await Promise.all([
      bin(['doctor', '--rtt', 'fast']),
      bin(['doctor', '--bogus']),
      bin(['doctro']),
      bin([]),
      bin(['doctor', '--conn-rate', '-5', '--json']),
      bin(['doctor', '--help']),
    ]);
    expect(runs.map((r) => r.code)).toEqual([2, 2, 2, 2, 2, 0]);
    expect(runs[4]!.stderr).toContain('Expected `connRate` to be a number');
  });

  it.runIf(process.platform === 'linux')('completes against this machine’s /proc with valid JSON', async () => {
    const { code, stdout } = await bin(['doctor', '--json']);
    expect([0, 1]).toContain(code);
    const report = JSON.parse(stdout);
    expect(report.procRoot).toBe('/proc');
    expect(report.findings.length + report.passed.length).toBeGreaterThanOrEqual(DOCTOR_CHECKS.length - report.skipped.length);
  });
});

describe('breakwater probe (the real bin)', { timeout: 60_000 }, () => {
  it('probes a loopback echo server: JSON, exit 0; a refused port exits 1', async () => {
    const server = net.createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const ok = await bin(['probe', `127.0.0.1:${port}`, '--echo-bytes', '200000', '--json']);
      expect(ok.code).toBe(0);
      const report = JSON.parse(ok.stdout);
      expect(report.addresses[0]).toMatchObject({ address: '127.0.0.1', ok: true, echo: { receivedBytes: 200_000 } });
      const human = await bin(['probe', `127.0.0.1:${port}`, '--echo-bytes', '1000']);
      expect(human.stdout).toMatch(/connected in [\d.]+ ms/);
    } finally {
      server.close();
    }
    const runs = await Promise.all([bin(['probe', `127.0.0.1:${port}`]), bin(['probe', 'no-port-here']), bin(['probe', 'name.invalid:80', '--json'])]);
    expect(runs.map((r) => r.code)).toEqual([1, 2, 3]);
  });
});

// The built bin (`tsc -b` first): the scenarios use TypeScript syntax the strip-only loader cannot run.
describe('breakwater scorecard --json (the built bin)', { timeout: 120_000 }, () => {
  const built = (args: string[]) => bin(args, {}, ['packages/cli/dist/bin.js']);
  // console.log at import, in the config function and in an `http.layers` function (run by each createClient in FM-11's rows).
  const noisy = (name: string, body: string) => {
    const file = path.join(tmp, name);
    writeFileSync(
      file,
      `console.log('at import');\nexport default () => { console.log('in the config function'); process.stdout.write('raw write\\n'); return ${body}; };\n`,
    );
    return file;
  };

  it('stdout holds the JSON document alone: what the config prints goes to stderr', async () => {
    const config = noisy('noisy.config.mjs', "{ http: { layers: (l) => { console.log('in layers'); return l; } } }");
    const { code, stdout, stderr } = await built(['scorecard', '--json', '--only', 'FM-11', '--config', config]);
    expect(JSON.parse(stdout).rows.map((r: { id: string }) => r.id)).toEqual(['FM-11']);
    expect([0, 1]).toContain(code);
    for (const line of ['at import', 'in the config function', 'raw write', 'in layers']) expect(stderr).toContain(line);
  });

  it('the typed-error JSON (exit 2) is alone on stdout too', async () => {
    const config = noisy('noisy-invalid.config.mjs', "{ socket: { stallTimeoutMs: 'soon' } }");
    const { code, stdout, stderr } = await built(['scorecard', '--json', '--only', 'FM-18', '--config', config]);
    expect(code).toBe(2);
    expect(JSON.parse(stdout).error.code).toBe('BW_ERR_INVALID_OPTION');
    expect(stderr).toContain('in the config function');
  });

  it('SIGTERM: the banner and the rows it cut short name the signal; exit 143', async () => {
    const child = spawn(process.execPath, ['packages/cli/dist/bin.js', 'scorecard', '--json', '--only', 'FM-17'], {
      cwd: repo,
      env: { ...process.env, NO_COLOR: '' },
    });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      // Once: a second signal quits at once, without the report.
      if (stderr.includes('[FM-17] started') && child.signalCode === null && !sent) sent = child.kill('SIGTERM');
    });
    const [code] = (await once(child, 'close')) as [number];
    expect(code).toBe(143);
    expect(stderr).toContain('terminated (SIGTERM): stopping the running scenarios and cleaning up (a second SIGTERM or Ctrl-C to quit at once)');
    expect(JSON.parse(stdout).rows[0]).toMatchObject({ id: 'FM-17', verdict: 'error', reason: 'terminated (SIGTERM)' });
  });

  it("--html onto a link to this process's stdout file (`> out.txt`, `--html /dev/stdout`) is refused; the link and the output stay", async () => {
    const out = path.join(tmp, 'out.txt');
    const link = path.join(tmp, 'to-out.html');
    symlinkSync(out, link);
    const fd = openSync(out, 'w');
    try {
      const child = spawn(process.execPath, ['packages/cli/dist/bin.js', 'scorecard', '--only', 'FM-18', '--html', link], {
        cwd: repo,
        stdio: ['ignore', fd, 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (d) => (stderr += d));
      const [code] = (await once(child, 'close')) as [number];
      expect(code).toBe(2);
      expect(stderr).toContain("to-out.html`: is this process's stdout (a redirect to the same file)");
    } finally {
      closeSync(fd);
    }
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(out, 'utf8')).toBe('');
  });
});
