import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CircuitRegistry } from '@breakwater/circuit';
import { BreakwaterError } from '@breakwater/core';
import { MockAgent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type Layer, previewLayers } from './index.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function mock() {
  const agent = new MockAgent();
  agent.disableNetConnect();
  cleanups.push(() => agent.close());
  return agent;
}

function client(options: Parameters<typeof createClient>[0]) {
  const c = createClient(options);
  cleanups.push(() => c.close());
  return c;
}

describe('createClient() with an injected MockAgent', () => {
  it('retries an idempotent GET on 503 and marks the retry', async () => {
    const agent = mock();
    const pool = agent.get('http://users.test');
    const seen: (string | undefined)[] = [];
    pool
      .intercept({ path: '/u/1', method: 'GET' })
      .reply(({ headers }) => {
        seen.push((headers as Record<string, string>)['x-breakwater-retry']);
        return { statusCode: 503, data: 'busy' };
      })
      .times(1);
    pool.intercept({ path: '/u/1', method: 'GET' }).reply(({ headers }) => {
      seen.push((headers as Record<string, string>)['x-breakwater-retry']);
      return { statusCode: 200, data: 'ok' };
    });
    const c = client({ dispatcher: agent, baseDelayMs: 1, maxDelayMs: 5 });
    const res = await c.request('http://users.test/u/1');
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('ok');
    expect(seen).toEqual([undefined, '2']);
  });

  it('does not retry a POST, unless it carries an Idempotency-Key', async () => {
    const agent = mock();
    const pool = agent.get('http://pay.test');
    pool.intercept({ path: '/charge', method: 'POST' }).reply(503, 'no').times(3);
    pool.intercept({ path: '/charge', method: 'POST' }).reply(200, 'yes');
    const plain = client({ dispatcher: agent, baseDelayMs: 1, maxDelayMs: 5 });
    expect((await plain.request('http://pay.test/charge', { method: 'POST', body: 'x' })).statusCode).toBe(503);
    const keyed = client({ dispatcher: agent, baseDelayMs: 1, maxDelayMs: 5, idempotencyKey: true });
    const res = await keyed.request('http://pay.test/charge', { method: 'POST', body: 'x' });
    expect(res.statusCode).toBe(200);
  });

  it('sets the deadline header and fails with BW_ERR_DEADLINE carrying attempts', async () => {
    const agent = mock();
    let header: string | undefined;
    agent
      .get('http://slow.test')
      .intercept({ path: '/' })
      .reply(({ headers }) => {
        header = (headers as Record<string, string>)['x-breakwater-deadline-ms'];
        return { statusCode: 200, data: 'x' };
      })
      .delay(500);
    const c = client({ dispatcher: agent, deadlineMs: 50 });
    const err = await c.request('http://slow.test/').catch((e: unknown) => e);
    expect(header).toBe('50');
    expect(err).toBeInstanceOf(BreakwaterError);
    expect((err as BreakwaterError).code).toBe('BW_ERR_DEADLINE');
    expect((err as BreakwaterError).details.attempts).toBe(1);
  });

  it('fetch goes through the same stack', async () => {
    const agent = mock();
    const pool = agent.get('http://f.test');
    pool.intercept({ path: '/' }).reply(502, '').times(1);
    pool.intercept({ path: '/' }).reply(200, 'fetched');
    const c = client({ dispatcher: agent, baseDelayMs: 1, maxDelayMs: 5 });
    const res = await c.fetch('http://f.test/');
    expect(await res.text()).toBe('fetched');
  });

  it('lets users remove a layer by role', async () => {
    const agent = mock();
    const c = client({ dispatcher: agent, layers: (d) => d.filter((l) => l.role !== 'circuit') });
    expect(c.layers.map((l) => l.role)).toEqual(['deadline', 'retry']);
    const full = client({});
    expect(full.layers.map((l) => l.role)).toEqual(['deadline', 'retry', 'circuit', 'balance', 'dns']);
  });

  it('opens the circuit per origin after repeated 5xx', async () => {
    const agent = mock();
    agent.get('http://down.test').intercept({ path: '/' }).reply(500, '').persist();
    const c = client({ dispatcher: agent, attempts: 1, circuit: { volumeThreshold: 3 } });
    for (let i = 0; i < 3; i++) await (await c.request('http://down.test/')).body.dump();
    const err = await c.request('http://down.test/').catch((e: unknown) => e);
    expect((err as BreakwaterError).code).toBe('BW_ERR_CIRCUIT_OPEN');
  });

  it('keeps a circuit.attemptTimeoutMs: such requests go through the breaker’s run(), which counts a slow one as timed out', async () => {
    const agent = mock();
    agent.get('http://slow.test').intercept({ path: '/' }).reply(200, 'late').delay(300);
    const c = client({ dispatcher: agent, attempts: 1, circuit: { attemptTimeoutMs: 50 } });
    await (await c.request('http://slow.test/')).body.dump();
    const layer = c.layers.find((l) => l.role === 'circuit') as unknown as { registry: CircuitRegistry };
    expect(layer.registry.get('http://slow.test')?.stats().totals).toMatchObject({ calls: 1, timedOut: 1, failed: 1 });
  });
});

describe('options', () => {
  it.each([
    [{ connections: 0 }, 'connections'],
    [{ keepAliveTimeoutMs: -1 }, 'keepAliveTimeoutMs'],
    [{ allowH2: 'yes' }, 'allowH2'],
    [{ keepAliveTimout: 1 }, 'keepAliveTimout'],
    [{ dispatcher: {} }, 'dispatcher'],
    // Checked at construction, not on the first request (which would make every request fail instead).
    [{ retryBudget: { ratioo: 0.5 } }, 'retryBudget.ratioo'],
    [{ retryBudget: { ratio: -1 } }, 'retryBudget.ratio'],
    [{ circuit: { nope: 1 } }, 'circuit.nope'],
    [{ circuit: { resetTimeoutMs: 0 } }, 'circuit.resetTimeoutMs'],
  ])('%j → BW_ERR_INVALID_OPTION naming %s', (options, key) => {
    let err: unknown;
    try {
      createClient(options as never);
    } catch (e) {
      err = e;
    }
    expect((err as BreakwaterError).code).toBe('BW_ERR_INVALID_OPTION');
    expect((err as BreakwaterError).message).toContain(`\`${key}\``);
    expect((err as BreakwaterError).details.key).toBe(key);
  });
});

describe('previewLayers()', () => {
  it('runs a layers edit once and returns the stack createClient() would use', () => {
    let calls = 0;
    const edit = (d: Layer[]) => {
      calls += 1;
      return d.filter((l) => l.role !== 'circuit');
    };
    const roles = previewLayers({ layers: edit }).map((l) => l.role);
    expect(calls).toBe(1);
    expect(roles).toEqual(['deadline', 'retry', 'balance', 'dns']);
  });

  it('throws as createClient() does for an edit that returns no stack, and lets an edit’s own error through', () => {
    expect(() => previewLayers({ layers: (() => 42) as never })).toThrow(
      expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'layers' } }),
    );
    expect(() =>
      previewLayers({
        layers: () => {
          throw new Error('boom');
        },
      }),
    ).toThrow('boom');
  });
});

describe('global fetch', () => {
  it('is untouched by importing and using @breakwater/http', async () => {
    const before = globalThis.fetch;
    const mod = await import('./index.js');
    const server = http.createServer((_req, res) => res.end('global'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const c = mod.createClient();
    cleanups.push(() => c.close());
    expect(await (await c.fetch(url)).text()).toBe('global');
    expect(globalThis.fetch).toBe(before);
    const res = await globalThis.fetch(url, { signal: AbortSignal.timeout(5_000) });
    expect(await res.text()).toBe('global');
  });
});
