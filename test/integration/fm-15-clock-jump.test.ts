import net from 'node:net';
import { Deadline } from '@breakwater/core';
import { connect } from '@breakwater/socket';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { reportResult } from '../support/report.js';

/**
 * FM-15, wall-clock jumps: NTP steps, a VM resumed, someone running `date -s`.
 * Breakwater's timers read the monotonic clock only, so the wall clock is
 * jumped ±1 h (Date is faked, timers stay real) in the middle of each wait
 * and every timeout must still fire on time. The naive side is a timeout
 * computed from Date.now(), as hand-written code often does: it fires an hour
 * early (or never).
 */

const TIMEOUT_MS = 600;
const TOLERANCE_MS = 300;

afterEach(() => {
  vi.useRealTimers();
});

/** Jumps the wall clock by `jumpMs` after `afterMs`, keeping real timers. */
function jumpWallClock(jumpMs: number, afterMs: number): void {
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
  setTimeout(() => vi.setSystemTime(Date.now() + jumpMs), afterMs);
}

/** Starts the clock before the operation is created, so a timer armed inside it cannot look early. */
async function elapsedUntilRejected(start: () => Promise<unknown>): Promise<{ ms: number; err: unknown }> {
  const started = performance.now();
  const err = await start().then(
    () => undefined,
    (e: unknown) => e,
  );
  return { ms: performance.now() - started, err };
}

describe('FM-15 wall-clock jumps change no timeout', () => {
  for (const jumpMs of [3_600_000, -3_600_000]) {
    const label = jumpMs > 0 ? '+1 h' : '-1 h';

    it(`${label}: Deadline, connect timeout and stall watchdog fire on time; a Date.now() timeout does not`, async () => {
      const server = net.createServer((s) => s.on('error', () => {}));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const { port } = server.address() as net.AddressInfo;
      const silent = await connect({ host: '127.0.0.1', port, stallTimeoutMs: TIMEOUT_MS });
      try {
        jumpWallClock(jumpMs, TIMEOUT_MS / 3);
        const wallDeadline = Date.now() + TIMEOUT_MS;
        const naive = new Promise<number>((resolve) => {
          const started = performance.now();
          const poll = setInterval(() => {
            if (Date.now() >= wallDeadline || performance.now() - started > TIMEOUT_MS * 3) {
              clearInterval(poll);
              resolve(performance.now() - started);
            }
          }, 10);
        });
        const deadlineStarted = performance.now();
        const deadline = Deadline.after(TIMEOUT_MS);
        const deadlineFired = new Promise<number>((resolve) => {
          deadline.signal.addEventListener('abort', () => resolve(performance.now() - deadlineStarted));
        });
        const connectTimeout = elapsedUntilRejected(() =>
          connect({ host: 'hang.test', port, connectTimeoutMs: TIMEOUT_MS, lookup: () => new Promise(() => {}) }),
        );
        const stalled = new Promise<{ ms: number; err: unknown }>((resolve) => {
          const started = performance.now();
          silent.once('error', (err) => resolve({ ms: performance.now() - started, err }));
          silent.write('request nobody answers');
        });

        const [naiveMs, deadlineMs, connectResult, stallResult] = await Promise.all([naive, deadlineFired, connectTimeout, stalled]);
        expect(connectResult.err).toMatchObject({ code: 'BW_ERR_CONNECT_TIMEOUT' });
        expect(stallResult.err).toMatchObject({ code: 'BW_ERR_STALLED' });
        for (const [what, ms] of [
          ['Deadline', deadlineMs],
          ['connect timeout', connectResult.ms],
          ['stall watchdog', stallResult.ms],
        ] as const) {
          expect(ms, `${what} fired early`).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
          expect(ms, `${what} fired late`).toBeLessThanOrEqual(TIMEOUT_MS + TOLERANCE_MS);
        }
        // The wall-clock timeout is off by the jump: early on +1 h, late (capped here) on -1 h.
        if (jumpMs > 0) expect(naiveMs).toBeLessThan(TIMEOUT_MS / 2);
        else expect(naiveMs).toBeGreaterThan(TIMEOUT_MS * 2);
        reportResult(
          {
            fm: 'FM-15',
            side: 'breakwater',
            metric: `timerErrorMs ${label}`,
            value: Math.round(Math.max(deadlineMs, connectResult.ms, stallResult.ms) - TIMEOUT_MS),
            unit: 'ms',
          },
          `wall clock ${label} mid-wait: Deadline ${deadlineMs.toFixed(0)} ms, connect timeout ${connectResult.ms.toFixed(0)} ms, stall ${stallResult.ms.toFixed(0)} ms for ${TIMEOUT_MS} ms timeouts; a Date.now() timeout fired after ${naiveMs.toFixed(0)} ms${jumpMs < 0 ? ' (gave up waiting)' : ''}`,
        );
      } finally {
        silent.destroy();
        server.close();
      }
    });
  }
});
