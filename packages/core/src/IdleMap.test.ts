import { describe, expect, it } from 'vitest';
import { FakeClock } from './Clock.js';
import { IdleMap } from './IdleMap.js';

describe('IdleMap', () => {
  it('never holds more than maxEntries evictable entries, dropping the oldest', () => {
    const dropped: string[] = [];
    const m = new IdleMap<string, number>({ maxEntries: 3, idleMs: 60_000, clock: new FakeClock(), onEvict: (_v, k) => dropped.push(k) });
    for (let i = 0; i < 10; i++) m.set(`k${i}`, i);
    expect(m.size).toBe(3);
    expect(m.peek('k9')).toBe(9);
    expect(dropped).toHaveLength(7);
  });

  it('drops idle entries as new ones come, with no timer', () => {
    const clock = new FakeClock();
    const m = new IdleMap<string, number>({ maxEntries: 100, idleMs: 1_000, clock });
    for (let i = 0; i < 8; i++) m.set(`old${i}`, i);
    clock.advance(2_000);
    expect(clock.pendingTimers).toBe(0);
    m.get('old7'); // used: stays
    m.set('new1', 1);
    m.set('new2', 2);
    expect(m.has('old7')).toBe(true);
    expect(m.size).toBe(3);
  });

  it('counts a lookup as use when the next sweep comes across it, reading no clock per lookup', () => {
    let reads = 0;
    const clock = new FakeClock();
    const now = () => {
      reads++;
      return clock.now();
    };
    const counting = { now, setTimeout: clock.setTimeout.bind(clock), clearTimeout: clock.clearTimeout.bind(clock) };
    const m = new IdleMap<string, number>({ maxEntries: 100, idleMs: 1_000, clock: counting });
    m.set('a', 1);
    m.set('b', 2);
    const before = reads;
    for (let i = 0; i < 100; i++) m.get('a');
    expect(reads).toBe(before);
    clock.advance(1_500);
    m.set('c', 3); // sweeps a (used: stays, stamped now) and b (idle: goes)
    expect(m.has('a')).toBe(true);
    expect(m.has('b')).toBe(false);
    clock.advance(999);
    m.set('d', 4);
    expect(m.has('a')).toBe(true); // never dropped sooner than idleMs after the sweep that counted its use
    clock.advance(1);
    m.set('e', 5);
    expect(m.has('a')).toBe(false);
  });

  it('keeps entries canEvict refuses (an open circuit), even past the cap', () => {
    const open = new Set(['a', 'b']);
    const m = new IdleMap<string, number>({ maxEntries: 2, idleMs: 0, clock: new FakeClock(), canEvict: (_v, k) => !open.has(k) });
    m.set('a', 1);
    m.set('b', 2);
    for (let i = 0; i < 50; i++) m.set(`c${i}`, i);
    expect(m.has('a')).toBe(true);
    expect(m.has('b')).toBe(true);
    expect(m.size).toBe(3);
    open.clear();
    m.set('d', 0);
    expect(m.has('a') || m.has('b')).toBe(false);
  });
});
