import { createHook } from 'node:async_hooks';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCORECARD_CONFIG } from '../../packages/scorecard/src/config.js';
import { programPath } from '../../packages/scorecard/src/requirements.js';
import { POSTGRES_PROGRAMS, startPostgres } from '../../packages/scorecard/src/scenarios/contracts-pg.js';
import type { ScenarioContext } from '../../packages/scorecard/src/types.js';

/**
 * `breakwater scorecard --only DC-04` cancelled with SIGTERM (CI, `kill`)
 * while its throw-away PostgreSQL runs: PostgreSQL cannot notice that the
 * process that started it died, so the CLI must stop it, remove its temp
 * dir, and exit 143. Drives the built bin, as a user does.
 */

const repo = fileURLToPath(new URL('../../', import.meta.url));
const bin = path.join(repo, 'packages/cli/dist/bin.js');
const required = process.env.BREAKWATER_REQUIRE_NETNS === '1';
const available = POSTGRES_PROGRAMS.every((p) => programPath(p) !== undefined);
const PG_DIR = /^bw-scorecard-pg-/;

const pgDirs = () => new Set(readdirSync(os.tmpdir()).filter((name) => PG_DIR.test(name)));

/** Running (a zombie nobody reaped yet counts as gone: it holds no port and does nothing). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const settle = (accepted: boolean) => {
      socket.destroy();
      resolve(accepted);
    };
    socket.setTimeout(2_000, () => settle(true));
    socket.once('connect', () => settle(true));
    socket.once('error', () => settle(false));
  });

/** The port in the postmaster's pid file (line 4), once the postmaster wrote it: initdb's single-user backend writes one too, with its pid negated. */
function postmasterPort(dir: string): number | undefined {
  try {
    const lines = readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n');
    const port = Number(lines[3]);
    return Number(lines[0]) > 0 && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

/** The postmaster's pid and port once it wrote them (line 1 and 4 of postmaster.pid) and listens. */
async function waitForPostmaster(dir: string, deadline: number): Promise<{ pid: number; port: number } | undefined> {
  while (Date.now() < deadline) {
    try {
      const lines = readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n');
      const pid = Number(lines[0]);
      const port = Number(lines[3]);
      if (pid > 0 && port > 0 && (await accepts(port))) return { pid, port };
    } catch {
      // Not written yet.
    }
    await sleep(100);
  }
  return undefined;
}

beforeAll(async () => {
  if (!available) return;
  // The test drives dist/, as `npx breakwater` would: build it from the current sources.
  await promisify(execFile)(process.execPath, [path.join(repo, 'node_modules/typescript/bin/tsc'), '-b', 'packages/cli'], { cwd: repo, timeout: 240_000 });
}, 250_000);

describe.skipIf(!available && !required)('breakwater scorecard --only DC-04, then SIGTERM', () => {
  it.each([
    ['once: the scenario cleans up and the report is printed', 1],
    ['twice: exits at once, and the exit handlers still kill PostgreSQL', 2],
  ])(
    '%s; PostgreSQL is stopped, its temp dir removed, exit 143',
    async (_name, signals) => {
      expect(available, `BREAKWATER_REQUIRE_NETNS=1: DC-04 needs ${POSTGRES_PROGRAMS.join(', ')}`).toBe(true);
      const before = pgDirs();
      const cli = spawn(process.execPath, [bin, 'scorecard', '--only', 'DC-04', '--json'], {
        cwd: repo,
        env: { ...process.env, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      cli.stdout.setEncoding('utf8').on('data', (c: string) => {
        stdout += c;
      });
      cli.stderr.setEncoding('utf8').on('data', (c: string) => {
        stderr += c;
      });
      const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
      let postmaster: { pid: number; port: number } | undefined;
      let dir: string | undefined;
      try {
        const deadline = Date.now() + 60_000;
        while (dir === undefined && Date.now() < deadline && cli.exitCode === null) {
          dir = [...pgDirs()].find((name) => !before.has(name));
          if (dir === undefined) await sleep(50);
        }
        expect(dir, 'DC-04 made no temp dir').toBeDefined();
        dir = path.join(os.tmpdir(), dir!);
        // On a fast host DC-04 is over within half a second of PostgreSQL starting: freeze the CLI as soon as
        // the postmaster has written its pid file (not initdb's single-user backend's),
        // so PostgreSQL is surely still running when the SIGTERM lands.
        while (postmasterPort(dir) === undefined && Date.now() < deadline && cli.exitCode === null) await sleep(5);
        cli.kill('SIGSTOP');
        postmaster = await waitForPostmaster(dir, deadline);
        expect(postmaster, `PostgreSQL did not start (CLI output: ${stdout})`).toBeDefined();
        cli.kill('SIGTERM');
        cli.kill('SIGCONT');
        if (signals === 2) {
          // The second once the first is being handled (two at once are one pending signal): the scenario is still stopping PostgreSQL.
          for (let i = 0; i < 300 && !stderr.includes('terminated (SIGTERM)') && cli.exitCode === null; i++) await sleep(10);
          expect(stderr).toContain('terminated (SIGTERM)');
          cli.kill('SIGTERM');
        }
        const code = await Promise.race([exited, sleep(30_000, 'still running')]);
        expect(code).toBe(143);
        // Once: the report is still printed, with the interrupted run's rows.
        if (signals === 1) expect(JSON.parse(stdout).rows.map((r: { id: string }) => r.id)).toEqual(['DC-04']);
        for (let i = 0; i < 50 && alive(postmaster!.pid); i++) await sleep(100);
        expect(alive(postmaster!.pid), 'the postmaster outlived the CLI').toBe(false);
        expect(await accepts(postmaster!.port), 'something still listens on PostgreSQL’s port').toBe(false);
        expect(existsSync(dir), `${dir} was left behind`).toBe(false);
      } finally {
        if (cli.exitCode === null) cli.kill('SIGKILL'); // stopped or not
        if (postmaster !== undefined && alive(postmaster.pid)) process.kill(postmaster.pid, 'SIGKILL');
        if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );
});

describe.skipIf(!available && !required)('DC-04 PostgreSQL start and stop', () => {
  // A pending 30 s (start) or 8 s (stop) timer kept the CLI alive ~5 s after its report.
  it('leaves no timer behind once PostgreSQL is up, nor once it is stopped', async () => {
    // Every timer of 2 s or more created from here on, still pending (`_destroyed` is set when one fires or is cleared).
    const created: { _idleTimeout: number; _destroyed: boolean }[] = [];
    const hook = createHook({ init: (_id, type, _trigger, resource) => void (type === 'Timeout' && created.push(resource as (typeof created)[number])) });
    const pending = () => created.filter((t) => !t._destroyed && t._idleTimeout >= 2_000).map((t) => `${t._idleTimeout} ms`);
    const defers: (() => unknown)[] = [];
    const ctx: ScenarioContext = {
      signal: new AbortController().signal,
      defer: (fn) => void defers.push(fn),
      progress: () => {},
      config: DEFAULT_SCORECARD_CONFIG,
    };
    hook.enable();
    try {
      const { port } = await startPostgres(ctx);
      expect(await accepts(port)).toBe(true);
      expect(pending(), 'a timer is still pending after PostgreSQL started').toEqual([]);
      for (const fn of defers.splice(0).reverse()) await fn();
      expect(pending(), 'a timer is still pending after PostgreSQL stopped').toEqual([]);
    } finally {
      hook.disable();
      for (const fn of defers.reverse()) await fn();
    }
  }, 60_000);
});
