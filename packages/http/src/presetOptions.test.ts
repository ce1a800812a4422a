import { isBreakwaterError } from '@breakwater/core';
import { ENV_NAMES, INFRA_NAMES, INFRA_PRESETS, PRESET_DEFAULTS, type PresetHttp, resolvePreset } from '@breakwater/presets';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createClient } from './createClient.js';
import { HTTP_DEFAULTS, type HttpClientOptions, resolveHttpOptions } from './defaults.js';
import { attemptHeadersTimeoutMs } from './presetOptions.js';

const alb = resolvePreset({ infra: 'aws-alb', env: 'production' });
// Every preset socket option but the raw socket's `expectResponseAfterWrite: true`: HTTP owes no reply after a write.
const { expectResponseAfterWrite: _owed, ...albSocket } = alb.socket;

function errorOf(fn: () => unknown): Error & { code?: string; details?: Record<string, unknown> } {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('did not throw');
}

describe('presets plug into createClient()', () => {
  it('spreading preset.http is a valid client config (the issue: Unknown option `attemptTimeoutMs`)', () => {
    const o = resolveHttpOptions({ ...alb.http });
    expect(o).toMatchObject(alb.http);
    // The same shape, by type: a key presets add must be accepted here or this stops compiling.
    expectTypeOf<PresetHttp>().toExtend<HttpClientOptions>();
  });

  it('`preset` gives the same numbers as spreading, plus its socket and circuit sections', () => {
    const o = resolveHttpOptions({ preset: alb });
    expect(o).toMatchObject({ ...alb.http, connectTimeoutMs: alb.socket.connectTimeoutMs });
    expect(alb.socket.expectResponseAfterWrite).toBe(true);
    expect(o.socket).toEqual(albSocket);
    const { attemptTimeoutMs: _, ...circuit } = alb.circuit;
    expect(o.circuit).toEqual(circuit);
    // A selection is resolved the same way.
    expect(resolveHttpOptions({ preset: { infra: 'aws-alb', env: 'production' } })).toEqual(o);
  });

  it('explicit options override the preset, key by key', () => {
    const o = resolveHttpOptions({ preset: alb, deadlineMs: 120_000, connections: 64, socket: { stallTimeoutMs: 7_000 }, circuit: { volumeThreshold: 3 } });
    expect(o.deadlineMs).toBe(120_000);
    expect(o.connections).toBe(64);
    expect(o.keepAliveTimeoutMs).toBe(alb.http.keepAliveTimeoutMs);
    expect(o.socket).toEqual({ ...albSocket, stallTimeoutMs: 7_000 });
    // The user's own socket options may still owe a reply after each write.
    expect(resolveHttpOptions({ preset: alb, socket: { expectResponseAfterWrite: true } }).socket?.expectResponseAfterWrite).toBe(true);
    expect(o.circuit).toMatchObject({ volumeThreshold: 3, errorThresholdPercentage: alb.circuit.errorThresholdPercentage });
    expect(resolveHttpOptions({ preset: alb, circuit: false }).circuit).toBe(false);
  });

  it('validatePath runs on the result: an idle above the ALB’s fails naming both numbers', () => {
    const e = errorOf(() => resolveHttpOptions({ preset: alb, keepAliveTimeoutMs: 65_000 }));
    expect(isBreakwaterError(e, 'BW_ERR_INVALID_OPTION')).toBe(true);
    expect(e.message).toMatch(/createClient\(\{ preset \}\).*`http.keepAliveTimeoutMs` \(65000 ms\).*aws-alb/);
    expect(e.details).toMatchObject({ key: 'http.keepAliveTimeoutMs', conflictsWith: 'loadBalancer.idleTimeoutMs' });
    // A deadline that cannot hold the preset's attempts.
    expect(errorOf(() => resolveHttpOptions({ preset: alb, deadlineMs: 5_000 })).details).toMatchObject({ conflictsWith: 'http.deadlineMs' });
    // The same overrides without a preset are fine: nothing to check them against.
    expect(resolveHttpOptions({ keepAliveTimeoutMs: 65_000 }).keepAliveTimeoutMs).toBe(65_000);
  });

  it('a healthy unusual override that keeps the path valid is accepted (fewer attempts, shorter deadline)', () => {
    const o = resolveHttpOptions({ preset: alb, attempts: 1, deadlineMs: 31_000 });
    expect(o).toMatchObject({ attempts: 1, deadlineMs: 31_000 });
  });

  // "A protection that fires on healthy traffic is a bug": row DC-01's healthy twin thinks 25 s.
  it.each(INFRA_NAMES.flatMap((infra) => ENV_NAMES.map((env) => ({ infra, env }))))(
    '$infra / $env lets a server thinking 25 s answer, unless its load balancer cuts first',
    ({ infra, env }) => {
      const o = resolveHttpOptions({ preset: { infra, env } });
      // Envoy's 15 s route timeout answers 504 before any 25 s answer: the attempt gives up just before it.
      if (INFRA_PRESETS[infra].responseTimeoutMs <= 25_000) return expect(attemptHeadersTimeoutMs(o)).toBeLessThan(INFRA_PRESETS[infra].responseTimeoutMs);
      expect(attemptHeadersTimeoutMs(o)).toBeGreaterThan(25_000);
      expect(o.deadlineMs).toBeGreaterThan(25_000);
      expect(o.bodyTimeoutMs === 0 || o.bodyTimeoutMs > 25_000).toBe(true);
      expect(o.socket?.expectResponseAfterWrite).not.toBe(true);
    },
  );

  it('takes a preset attemptTimeoutMs 0 (off): the headers timer and deadline are the client defaults', () => {
    const o = resolveHttpOptions({ preset: { infra: 'aws-alb', overrides: { http: { attemptTimeoutMs: 0 } } } });
    expect(o).toMatchObject({ attemptTimeoutMs: 0, deadlineMs: HTTP_DEFAULTS.deadlineMs });
    expect(attemptHeadersTimeoutMs(o)).toBe(HTTP_DEFAULTS.headersTimeoutMs);
  });

  it('bad presets and bad values name the key', () => {
    expect(errorOf(() => resolveHttpOptions({ preset: 'aws-alb' as never })).message).toMatch(/Expected `preset` to be/);
    expect(errorOf(() => resolveHttpOptions({ preset: { infra: 'aws-elb' } as never })).message).toMatch(/`infra`.*"aws-alb"/);
    expect(errorOf(() => resolveHttpOptions({ preset: alb, connections: 0 })).message).toMatch(/`connections`/);
    expect(errorOf(() => resolveHttpOptions({ preset: alb, socket: 5 as never })).message).toMatch(/`socket`/);
    expect(errorOf(() => resolveHttpOptions({ presets: alb } as never)).message).toMatch(/did you mean `preset`/);
  });

  it('createClient() accepts the preset and closes', async () => {
    const client = createClient({ preset: alb });
    expect(client.layers.map((l) => l.role)).toEqual(['deadline', 'retry', 'circuit', 'balance', 'dns']);
    await client.close();
  });

  it('presets take their attempt timeout and off-deadline from these defaults', () => {
    expect(PRESET_DEFAULTS.attemptTimeoutMs).toBe(HTTP_DEFAULTS.headersTimeoutMs);
    expect(PRESET_DEFAULTS.offDeadlineMs).toBe(HTTP_DEFAULTS.deadlineMs);
  });

  it('attemptTimeoutMs caps the headers timer; 0 leaves it alone', () => {
    expect(attemptHeadersTimeoutMs({ attemptTimeoutMs: 0, headersTimeoutMs: HTTP_DEFAULTS.headersTimeoutMs })).toBe(30_000);
    expect(attemptHeadersTimeoutMs({ attemptTimeoutMs: 10_000, headersTimeoutMs: 30_000 })).toBe(10_000);
    expect(attemptHeadersTimeoutMs({ attemptTimeoutMs: 10_000, headersTimeoutMs: 0 })).toBe(10_000);
    expect(attemptHeadersTimeoutMs({ attemptTimeoutMs: 40_000, headersTimeoutMs: 30_000 })).toBe(30_000);
  });
});
