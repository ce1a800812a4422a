import { FakeClock } from '@breakwater/core';
import { describe, expect, it } from 'vitest';
import { CircuitRegistry, circuit, circuitFor } from './registry.js';

const fail = async () => {
  throw Object.assign(new Error('down'), { code: 'ECONNRESET' });
};

describe('circuit lifecycle', () => {
  it('close() clears every timer of an open breaker, refuses later calls, and is idempotent', async () => {
    const clock = new FakeClock();
    const breaker = circuit(fail, { clock, volumeThreshold: 1, key: 'down:443' });
    await expect(breaker.fire()).rejects.toThrow('down');
    expect(breaker.state).toBe('open');
    expect(clock.pendingTimers).toBeGreaterThan(0);
    await breaker.close();
    await breaker.close();
    expect(clock.pendingTimers).toBe(0);
    await expect(breaker.fire()).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
  });

  it('[Symbol.asyncDispose] closes a breaker and a registry', async () => {
    const clock = new FakeClock();
    const registry = new CircuitRegistry({ clock });
    const breaker = registry.circuitFor('a:443', { fn: fail, clock, volumeThreshold: 1 });
    await expect(breaker.fire()).rejects.toThrow('down');
    await registry[Symbol.asyncDispose]();
    expect(registry.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    const alone = circuit(fail, { clock, volumeThreshold: 1 });
    await expect(alone.fire()).rejects.toThrow('down');
    await alone[Symbol.asyncDispose]();
    expect(clock.pendingTimers).toBe(0);
  });

  it('keeps the deprecated names working for one release', async () => {
    const clock = new FakeClock();
    const registry = new CircuitRegistry({ clock });
    const old = registry.circuitFor('old:443', fail, { clock, volumeThreshold: 1 });
    await expect(old.fire()).rejects.toThrow('down');
    expect(registry.circuitFor('placeholder:443', undefined, { clock, volumeThreshold: 7 }).key).toBe('placeholder:443');
    registry.shutdownAll();
    expect(registry.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    const shared = circuitFor(`unit-${Math.random()}`, undefined, { clock });
    shared.shutdown();
    await expect(shared.run(async () => 1)).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
  });

  it('a breaker closed by its holder (await using) is replaced on the next circuitFor(), not left refusing every call', async () => {
    const clock = new FakeClock();
    const key = `replaced-${Math.random()}`;
    let first: ReturnType<typeof circuitFor> | undefined;
    {
      await using held = circuitFor(key, { fn: async () => 1, clock });
      first = held;
    }
    expect(first.isShutDown).toBe(true);
    const next = circuitFor(key, { fn: async () => 2, clock });
    expect(next).not.toBe(first);
    await expect(next.fire()).resolves.toBe(2);
    await next.close();
  });

  it('registry and circuitFor() options are checked: misspelt keys, bad clocks, null, options given twice', () => {
    const invalid = (key: string) => expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: expect.objectContaining({ key }) });
    expect(() => new CircuitRegistry({ maxCircuit: 5 } as never)).toThrow(invalid('maxCircuit'));
    expect(() => new CircuitRegistry({ clock: {} as never })).toThrow(invalid('clock'));
    expect(() => new CircuitRegistry({ maxCircuits: 0 })).toThrow(invalid('maxCircuits'));
    expect(() => new CircuitRegistry({ idleMs: 2 ** 31 })).toThrow(invalid('idleMs'));
    const registry = new CircuitRegistry();
    expect(() => registry.circuitFor('k', null as never)).toThrow(invalid('options'));
    expect(() => registry.circuitFor('k', { attemptTimeoutMs: 1_000 } as never, { volumeThreshold: 3 } as never)).toThrow(invalid('options'));
    registry.circuitFor('k', { fn: async () => 1 });
    // An existing key still checks what it is given.
    expect(() => registry.circuitFor('k', { attemptTimeoutMs: -5 })).toThrow(invalid('attemptTimeoutMs'));
    expect(() => registry.circuitFor('k', { bogus: 1 } as never)).toThrow(invalid('bogus'));
    // A frozen options object is checked once per its first good use; a bad one every time; an unfrozen one every time.
    let reads = 0;
    const frozen = Object.freeze({
      get volumeThreshold() {
        reads++;
        return 3;
      },
    });
    registry.circuitFor('k', frozen);
    const once = reads;
    expect(once).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) expect(registry.circuitFor('k', frozen).key).toBe('k');
    expect(reads).toBe(once);
    const bad = Object.freeze({ attemptTimeoutMs: -5 });
    for (let i = 0; i < 2; i++) expect(() => registry.circuitFor('k', bad)).toThrow(invalid('attemptTimeoutMs'));
    const open = { attemptTimeoutMs: 5 };
    registry.circuitFor('k', open);
    open.attemptTimeoutMs = -1;
    expect(() => registry.circuitFor('k', open)).toThrow(invalid('attemptTimeoutMs'));
    void registry.close();
  });
});
