import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import type { BreakwaterError } from './BreakwaterError.js';
import { FakeClock } from './Clock.js';
import { Deadline, deadlineWheel } from './Deadline.js';
import { DEADLINE_TICK_MS } from './DeadlineWheel.js';

describe('Deadline on the monotonic clock: one shared timer', () => {
  it('fires never before expiresAt and within a tick (plus loop lag) after it, in order', async () => {
    const fired: { ms: number; lateMs: number }[] = [];
    const all = [30, 10, 20, 10].map(
      (ms) =>
        new Promise<void>((resolve) => {
          const d = Deadline.after(ms, { label: () => `t${ms}` });
          d.onAbort((reason) => {
            fired.push({ ms, lateMs: performance.now() - d.expiresAt });
            expect((reason as BreakwaterError).message).toContain(`t${ms}`);
            resolve();
          });
        }),
    );
    await Promise.all(all);
    expect(fired.map((f) => f.ms)).toEqual([10, 10, 20, 30]);
    for (const f of fired) expect(f.lateMs).toBeGreaterThanOrEqual(0);
    // Generous for a shared CI machine: the tick plus event-loop lag.
    for (const f of fired) expect(f.lateMs).toBeLessThan(DEADLINE_TICK_MS + 250);
    expect(deadlineWheel.size).toBe(0);
  });

  it('a deadline beyond Node’s largest timer delay neither fires early nor spins', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const far = Deadline.after(40 * 24 * 3_600_000); // 40 days > 2^31-1 ms
      await new Promise((r) => setTimeout(r, 20));
      expect(far.expired).toBe(false);
      far.dispose();
      // An overflowing delay would have re-armed every millisecond, warning each time.
      expect(warnings).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a disposed deadline leaves the wheel and never fires', async () => {
    const d = Deadline.after(5);
    let fired = false;
    d.onAbort(() => {
      fired = true;
    });
    expect(deadlineWheel.size).toBe(1);
    d.dispose();
    expect(deadlineWheel.size).toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(fired).toBe(false);
    expect(d.expired).toBe(false);
  });

  it('one throwing listener does not keep the other deadlines of its tick from firing', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.prependListener('uncaughtException', onUncaught);
    try {
      const a = Deadline.after(5);
      const b = Deadline.after(5);
      a.onAbort(() => {
        throw new Error('listener bug');
      });
      await new Promise<void>((resolve) => b.onAbort(() => resolve()));
      await new Promise((r) => setImmediate(r));
      expect(a.expired && b.expired).toBe(true);
    } finally {
      process.removeListener('uncaughtException', onUncaught);
    }
  });
});

describe('Deadline: onAbort() and a lazy signal', () => {
  it('calls onAbort listeners once with the reason, not after offAbort, and creates the signal only when read', () => {
    const clock = new FakeClock();
    const d = Deadline.after(100, { clock });
    const seen: string[] = [];
    const kept = (r: unknown) => seen.push(`kept:${(r as BreakwaterError).code}`);
    const removed = () => seen.push('removed');
    d.onAbort(kept);
    d.onAbort(removed);
    d.offAbort(removed);
    clock.advance(100);
    expect(seen).toEqual(['kept:BW_ERR_DEADLINE']);
    // Read after the fact: born aborted, with the same reason.
    expect(d.signal.aborted).toBe(true);
    expect((d.signal.reason as BreakwaterError).code).toBe('BW_ERR_DEADLINE');
    d.onAbort(() => seen.push('late'));
    expect(seen).toEqual(['kept:BW_ERR_DEADLINE', 'late']);
  });

  it('children follow a parent Deadline without reading its signal, and unlink on dispose', () => {
    const clock = new FakeClock();
    const parent = Deadline.after(1_000, { clock });
    const child = parent.child();
    const gone = parent.child(2_000);
    gone.dispose();
    const ac = new AbortController();
    const other = Deadline.after(1_000, { clock, parent: ac.signal });
    ac.abort(new Error('user cancelled'));
    expect(other.expired).toBe(true);
    clock.advance(1_000);
    expect(child.expired).toBe(true);
    expect(gone.expired).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });
});
