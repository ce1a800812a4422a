import diagnosticsChannel from 'node:diagnostics_channel';
import { BreakwaterError, FakeClock } from '@breakwater/core';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';

const refused = () => new BreakwaterError('BW_ERR_CONNECT_REFUSED', 'connection refused');
const status = (s: number) => Object.assign(new Error(`HTTP ${s}`), { status: s });

function make() {
  const clock = new FakeClock();
  return { clock, breaker: new CircuitBreaker(undefined, { key: 'users:80', clock, random: () => 0, volumeThreshold: 4, resetTimeoutMs: 1_000 }) };
}

type Outcome = { value: unknown; threw: boolean };
const outcomes: Outcome[] = [
  { value: 'ok', threw: false },
  { value: status(404), threw: true }, // a client error: not a failure, not a success either
  { value: { status: 503 }, threw: false }, // a failing result
  { value: refused(), threw: true },
  { value: refused(), threw: true },
];

describe('CircuitBreaker.admit()/record(): the closed-state fast path', () => {
  it('counts, emits and opens exactly as run() does for the same outcomes', async () => {
    const viaRun = make();
    const viaAdmit = make();
    const events = { run: [] as string[], admit: [] as string[] };
    for (const [name, b] of [
      ['run', viaRun.breaker],
      ['admit', viaAdmit.breaker],
    ] as const) {
      for (const e of ['succeeded', 'failed', 'opened'] as const) b.on(e, () => events[name].push(e));
    }
    for (const o of outcomes) {
      await viaRun.breaker.run(() => (o.threw ? Promise.reject(o.value) : o.value)).catch(() => {});
      const ticket = viaAdmit.breaker.admit();
      expect(ticket).toBeDefined();
      viaAdmit.breaker.record(ticket!, o.value, o.threw);
    }
    expect(viaAdmit.breaker.state).toBe('open');
    expect(viaAdmit.breaker.stats()).toEqual(viaRun.breaker.stats());
    expect(events.admit).toEqual(events.run);
  });

  it('admits nothing while open or half-open: run() then fails fast or runs the one probe, and a success closes it', async () => {
    const { clock, breaker } = make();
    for (let i = 0; i < 4; i++) breaker.record(breaker.admit()!, refused(), true);
    expect(breaker.state).toBe('open');
    expect(breaker.admit()).toBeUndefined();
    clock.advance(1_000);
    expect(breaker.state).toBe('halfOpen');
    expect(breaker.admit()).toBeUndefined();
    await expect(breaker.run(() => 'probe')).resolves.toBe('probe');
    expect(breaker.state).toBe('closed');
    expect(breaker.admit()).toBeDefined();
  });

  it('a ticket from the window before the breaker opened does not count in the fresh one', async () => {
    const { clock, breaker } = make();
    const old = breaker.admit()!;
    for (let i = 0; i < 4; i++) breaker.record(breaker.admit()!, refused(), true);
    clock.advance(1_000);
    await breaker.run(() => 'probe'); // closes with a fresh window
    breaker.record(old, refused(), true); // the slow call of the outage ends now
    expect(breaker.stats().window).toEqual({ fires: 0, successes: 0, failures: 0 });
    expect(breaker.state).toBe('closed');
  });

  it('publishes `succeeded` to a diagnostics_channel subscriber with no listener on the breaker, and to a listener alone', () => {
    const { breaker } = make();
    const published: unknown[] = [];
    const onMessage = (m: unknown) => published.push(m);
    diagnosticsChannel.subscribe('breakwater:circuit:succeeded', onMessage);
    try {
      breaker.record(breaker.admit()!, 'ok', false);
    } finally {
      diagnosticsChannel.unsubscribe('breakwater:circuit:succeeded', onMessage);
    }
    expect(published).toEqual([{ key: 'users:80', probe: false }]);
    const heard: unknown[] = [];
    breaker.on('succeeded', (e) => heard.push(e));
    breaker.record(breaker.admit()!, 'ok', false);
    expect(heard).toEqual([{ key: 'users:80', probe: false }]);
    expect(published).toHaveLength(1);
    expect(breaker.stats().totals).toMatchObject({ calls: 2, succeeded: 2 });
  });

  it('admits nothing after shutdown', () => {
    const { breaker } = make();
    breaker.shutdown();
    expect(breaker.admit()).toBeUndefined();
  });
});
