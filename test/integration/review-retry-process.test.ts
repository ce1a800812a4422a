import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Deadline } from '@breakwater/core';
import { RETRY_CHANNELS, RetryBudget, retry } from '@breakwater/retry';
import { afterEach, describe, expect, it } from 'vitest';
import { abortDuringBackoff, listen, rejection, server } from '../support/reviewRetry.js';

// Review of issue #17 ("one retry decision"): retry() on the shared RetryStrategy, and what its backoff
// timers do to a process's lifetime (child processes against a loopback server).

const HOOKS = fileURLToPath(new URL('../support/ts-hooks.ts', import.meta.url));
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('retry()', () => {
  it('rejects options of the wrong type naming the key, and an unknown hook', async () => {
    const fn = () => 1;
    for (const [key, value] of [
      ['attempts', '3'],
      ['baseDelayMs', -1],
      ['signal', {}],
      ['retryOn', 'yes'],
      ['idempotent', 1],
      ['onFailedAttempt', () => {}],
    ] as const) {
      const err = await rejection(retry(fn, { [key]: value } as never));
      expect(err.code).toBe('BW_ERR_INVALID_OPTION');
      expect(err.message).toContain(`\`${key}\``);
    }
  });

  it('an abort during the backoff: the caller’s reason, no attempt after it, the timer cleared, gaveUp aborted', async () => {
    const seen = listen(cleanups, RETRY_CHANNELS.gaveUp, RETRY_CHANNELS.retried);
    const ac = new AbortController();
    let calls = 0;
    const pending = retry(
      () => {
        calls++;
        throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
      },
      { signal: ac.signal, baseDelayMs: 60_000, maxDelayMs: 60_000, jitter: 'equal' },
    );
    await abortDuringBackoff(ac, pending, seen);
    expect(calls).toBe(1);
    expect(seen.map(([, m]) => [m.source, m.reason ?? 'retried'])).toEqual([
      ['retry', 'retried'],
      ['retry', 'aborted'],
    ]);
  });

  it('a forwarded retry is charged once and gets one attempt; a deadline ending mid-attempt is BW_ERR_DEADLINE', async () => {
    const seen = listen(cleanups, RETRY_CHANNELS.gaveUp);
    const budget = new RetryBudget({ ratio: 0, minPerSecond: 10 });
    let calls = 0;
    const refused = () => {
      calls++;
      throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    };
    await rejection(retry(refused, { budget, incomingIsRetry: true }));
    expect(calls).toBe(1);
    expect(budget.stats().retries).toBe(1);
    const err = await rejection(
      retry(
        ({ signal }) =>
          new Promise((_, reject) => {
            calls++;
            signal.addEventListener('abort', () => reject(signal.reason), { once: true });
          }),
        { deadline: Deadline.after(50), idempotent: true },
      ),
    );
    expect(err.code).toBe('BW_ERR_DEADLINE');
    expect(err.details).toMatchObject({ attempts: 1 });
    expect(calls).toBe(2);
    expect(seen.map(([, m]) => [m.source, m.reason])).toEqual([
      ['retry', 'attempts'],
      ['retry', 'deadline'],
    ]);
  });

  it('a non-Error throw is rethrown as is, after the attempts, with no TypeError from p-retry', async () => {
    let calls = 0;
    const thrown = await retry(
      () => {
        calls++;
        throw 'plain string';
      },
      { attempts: 3, retryOn: () => true, baseDelayMs: 1, maxDelayMs: 1 },
    ).catch((e: unknown) => e);
    expect(thrown).toBe('plain string');
    expect(calls).toBe(3);
  });
});

describe('process lifetime (child processes)', () => {
  const run = (script: string, origin: string) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--experimental-transform-types', '--no-warnings', '--import', HOOKS, '--input-type=module', '-e', script, '--', origin],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (c) => (out += String(c)));
      // A failure-detection bound, not a speed assertion: a process held open is killed here.
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', (code) => {
        clearTimeout(kill);
        resolve({ code, out });
      });
    });

  it('an http request in backoff keeps the process alive; a finished client does not hold it open', async () => {
    const { origin, bodies } = await server(cleanups, (n, req, res) => {
      // /hold asks for a minute: a backoff timer left behind by the abort would hold the child past its kill bound.
      const hold = req.url === '/hold';
      res.statusCode = n === 1 || hold ? 503 : 200;
      if (n === 1 || hold) res.setHeader('retry-after', hold ? '60' : '1');
      res.end('fine');
    });
    const script = `
      const { createClient } = await import('@breakwater/http');
      const c = createClient({ maxRetryAfterMs: 120000, deadlineMs: 0 });
      const res = await c.request(process.argv[1] + '/x');
      console.log(res.statusCode, await res.body.text());
      const again = await c.request(process.argv[1] + '/y');
      await again.body.dump();
      const held = await c.request(process.argv[1] + '/hold', { signal: AbortSignal.timeout(200) }).catch((e) => e.name);
      console.log(held, 'exiting without close');
    `;
    const { code, out } = await run(script, origin);
    expect(out).toBe('200 fine\nTimeoutError exiting without close\n');
    expect(code).toBe(0);
    expect(bodies).toHaveLength(4);
  });

  it('retry() in backoff keeps the process alive', async () => {
    const script = `
      const { retry } = await import('@breakwater/retry');
      let n = 0;
      const v = await retry(() => { if (++n === 1) throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }); return n; }, { baseDelayMs: 300, maxDelayMs: 300, jitter: 'equal' });
      console.log('value', v);
    `;
    const { code, out } = await run(script, '');
    expect(out).toBe('value 2\n');
    expect(code).toBe(0);
  });
});
