import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { haproxyBinary } from '../support/haproxy.js';

/**
 * HAProxy (FM-07 behind a real LB, FM-16) cannot notice that the process that
 * started it died. A scorecard or test run cancelled with SIGTERM (CI, `kill`)
 * must not leave it running: the launcher kills it, then lets the signal
 * terminate the process as it would have.
 */

const binary = haproxyBinary();
const required = process.env.BREAKWATER_REQUIRE_NETNS === '1';
// The child runs @breakwater/scorecard's launcher from its TypeScript source, as vitest does here: no build needed.
const tsHooks = new URL('../support/ts-hooks.ts', import.meta.url).pathname;
const launcher = new URL('../../packages/scorecard/src/scenarios/transport-support.ts', import.meta.url).href;

/** Running (a zombie nobody reaped yet counts as gone: it holds no port and does nothing). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

describe.skipIf(binary === undefined && !required)('HAProxy started by the scorecard launcher', () => {
  it('dies with its parent on SIGTERM, and the parent still dies of the signal', async () => {
    expect(binary, 'BREAKWATER_REQUIRE_NETNS=1: haproxy must be installed').toBeDefined();
    const script = `
      const { freePort, startHaproxy } = await import(${JSON.stringify(launcher)});
      const port = await freePort();
      const config = ['defaults', '  mode tcp', '  timeout connect 1s', '  timeout client 5s', '  timeout server 5s',
        'frontend fe', \`  bind 127.0.0.1:\${port}\`, '  default_backend be', 'backend be', '  server s 127.0.0.1:9'].join('\\n') + '\\n';
      const h = await startHaproxy(${JSON.stringify(binary)}, config, [port]);
      console.log(JSON.stringify({ haproxy: h.pid }));
      setInterval(() => {}, 1_000);
    `;
    const parent = spawn(process.execPath, ['--import', tsHooks, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const haproxyPid = await new Promise<number>((resolve, reject) => {
      parent.stdout.setEncoding('utf8').once('data', (line: string) => resolve((JSON.parse(line) as { haproxy: number }).haproxy));
      parent.once('exit', () => reject(new Error('the parent exited before starting HAProxy')));
    });
    expect(alive(haproxyPid)).toBe(true);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => parent.once('exit', (_code, signal) => resolve(signal)));
    parent.kill('SIGTERM');
    expect(await exited).toBe('SIGTERM');
    for (let i = 0; i < 20 && alive(haproxyPid); i++) await sleep(50);
    const orphaned = alive(haproxyPid);
    if (orphaned) process.kill(haproxyPid, 'SIGKILL');
    expect(orphaned, 'HAProxy outlived the process that started it').toBe(false);
  });
});
