import { BreakwaterError } from '@breakwater/core';
import { resolvePreset } from '@breakwater/presets';
import { SOCKET_DEFAULTS } from '@breakwater/socket';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SCORECARD_CONFIG, resolveScorecardConfig } from './config.js';
import { runScorecard } from './runner.js';
import { configuredBound } from './scenarios/config-support.js';

/** The key a BW_ERR_INVALID_OPTION names. */
function keyOf(fn: () => unknown): unknown {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(BreakwaterError);
  expect(caught).toMatchObject({ code: 'BW_ERR_INVALID_OPTION' });
  return (caught as BreakwaterError).details.key;
}

describe('resolveScorecardConfig', () => {
  it('without a config: every package default, marked as not given', () => {
    expect(DEFAULT_SCORECARD_CONFIG.given).toBe(false);
    expect(DEFAULT_SCORECARD_CONFIG.effectiveSocket.stallTimeoutMs).toBe(SOCKET_DEFAULTS.stallTimeoutMs);
    expect(DEFAULT_SCORECARD_CONFIG.http).toEqual({});
  });

  it('a preset supplies its sections; explicit sections override it key by key', () => {
    const c = resolveScorecardConfig({ preset: { infra: 'aws-alb' }, socket: { stallTimeoutMs: 15_000 }, http: { deadlineMs: 120_000 } });
    expect(c.given).toBe(true);
    expect(c.preset?.loadBalancer.name).toBe('aws-alb');
    expect(c.effectiveSocket.stallTimeoutMs).toBe(15_000);
    expect(c.socket.keepAliveIdleMs).toBe(c.preset?.socket.keepAliveIdleMs);
    expect(c.pool.idleTimeoutMs).toBe(c.preset?.pool.idleTimeoutMs);
    // The HTTP client gets the preset (createClient applies it) and the user's socket options.
    expect(c.http).toMatchObject({ preset: c.preset, deadlineMs: 120_000, socket: { stallTimeoutMs: 15_000 } });
    expect(resolveScorecardConfig({ preset: resolvePreset({ infra: 'kubernetes' }) }).preset?.loadBalancer.name).toBe('kubernetes');
  });

  it('names the key that is wrong, as the config file spells it', () => {
    expect(keyOf(() => resolveScorecardConfig({ sockets: {} }))).toBe('sockets');
    expect(keyOf(() => resolveScorecardConfig({ socket: { stallTimeoutMs: -1 } }))).toBe('socket.stallTimeoutMs');
    expect(keyOf(() => resolveScorecardConfig({ socket: { stalTimeoutMs: 1 } }))).toBe('socket.stalTimeoutMs');
    expect(keyOf(() => resolveScorecardConfig({ http: { attempts: 0 } }))).toBe('http.attempts');
    expect(keyOf(() => resolveScorecardConfig({ pool: { max: 0 } }))).toBe('pool.max');
    expect(keyOf(() => resolveScorecardConfig({ pool: { port: 5432 } }))).toBe('pool.port');
    expect(keyOf(() => resolveScorecardConfig({ ack: { maxBufferedBytes: -5 } }))).toBe('ack.maxBufferedBytes');
    expect(keyOf(() => resolveScorecardConfig({ preset: { infra: 'nope' } }))).toBe('preset.infra');
    expect(keyOf(() => resolveScorecardConfig({ http: 5 }))).toBe('http');
    expect(keyOf(() => resolveScorecardConfig('x'))).toBe('scorecard config');
    expect(() => resolveScorecardConfig({ socket: { stallTimeoutMs: -1 } })).toThrow(/`socket\.stallTimeoutMs`/);
  });

  it('names a preset override where the config has it, under `preset.overrides`, hint included', () => {
    let caught: BreakwaterError | undefined;
    try {
      resolveScorecardConfig({ preset: { infra: 'aws-alb', overrides: { http: { attemptTimeoutMs: -1 } } } });
    } catch (error) {
      caught = error as BreakwaterError;
    }
    expect(caught?.details.key).toBe('preset.overrides.http.attemptTimeoutMs');
    expect(caught?.message).toMatch(/`preset\.overrides\.http\.attemptTimeoutMs` to be an integer between 0 and 3600000, got -1/);
    expect(caught?.hint).toMatch(/`preset\.overrides\.http\.attemptTimeoutMs`/);
    expect(keyOf(() => resolveScorecardConfig({ preset: { infra: 'aws-alb', overrides: { pool: { max: 0 } } } }))).toBe('preset.overrides.pool.max');
    expect(keyOf(() => resolveScorecardConfig({ preset: { infra: 'aws-alb', overrides: { pool: 5 } } as never }))).toBe('preset.overrides.pool');
    // 0 is off, as in @breakwater/http.
    expect(resolveScorecardConfig({ preset: { infra: 'aws-alb', overrides: { http: { attemptTimeoutMs: 0 } } } }).preset?.http.attemptTimeoutMs).toBe(0);
  });

  it('says it once, names the suggestion in full and keeps the package’s hint', () => {
    let caught: BreakwaterError | undefined;
    try {
      resolveScorecardConfig({ socket: { stallTimeoutMS: 1 } });
    } catch (error) {
      caught = error as BreakwaterError;
    }
    expect(caught?.message).toBe('Unknown option `socket.stallTimeoutMS` in scorecard config (did you mean `socket.stallTimeoutMs`?)');
    expect(caught?.hint).toMatch(/takes: .*stallTimeoutMs/);
    expect(() => resolveScorecardConfig(Object.create({ socket: {} }))).toThrow(/got an object with a prototype of its own/);
    expect(() => resolveScorecardConfig(new (class Options {})())).toThrow(/got an Options, not a plain/);
  });

  it('validates nested socket sections and names their full key path', () => {
    expect(keyOf(() => resolveScorecardConfig({ http: { socket: { stallTimeoutMs: -1 } } }))).toBe('http.socket.stallTimeoutMs');
    expect(keyOf(() => resolveScorecardConfig({ http: { socket: { bogus: 1 } } }))).toBe('http.socket.bogus');
    expect(keyOf(() => resolveScorecardConfig({ pool: { socket: { stallTimeoutMs: -1 } } }))).toBe('pool.socket.stallTimeoutMs');
    expect(keyOf(() => resolveScorecardConfig({ ack: { socket: { userTimeoutMs: -1 } } }))).toBe('ack.socket.userTimeoutMs');
    expect(keyOf(() => resolveScorecardConfig({ drivers: { socket: { stallTimeoutMs: -1 } } }))).toBe('drivers.socket.stallTimeoutMs');
    const preset = resolvePreset({ infra: 'aws-alb' });
    expect(keyOf(() => resolveScorecardConfig({ preset: { ...preset, socket: { ...preset.socket, stallTimeoutMs: -1 } } }))).toBe(
      'preset.socket.stallTimeoutMs',
    );
    expect(() => resolveScorecardConfig({ http: { socket: { stallTimeoutMs: -1 } } })).toThrow(/`http\.socket\.stallTimeoutMs`/);
    expect(resolveScorecardConfig({ pool: { socket: { stallTimeoutMs: 5_000 } } }).pool.socket).toMatchObject({ stallTimeoutMs: 5_000 });
  });

  it("refuses what would send a scenario's traffic elsewhere: connect()'s address options, a proxy, a dispatcher", () => {
    const lookup = async () => [{ address: '192.0.2.1', family: 4 }];
    expect(keyOf(() => resolveScorecardConfig({ pool: { socket: { addresses: ['192.0.2.1'] } } }))).toBe('pool.socket.addresses');
    expect(keyOf(() => resolveScorecardConfig({ pool: { socket: { addresses: 'x' } } }))).toBe('pool.socket.addresses');
    expect(keyOf(() => resolveScorecardConfig({ pool: { socket: { lookup } } }))).toBe('pool.socket.lookup');
    expect(keyOf(() => resolveScorecardConfig({ pool: { socket: { tls: true } } }))).toBe('pool.socket.tls');
    expect(keyOf(() => resolveScorecardConfig({ http: { proxy: 'http://proxy.internal:3128' } }))).toBe('http.proxy');
    expect(keyOf(() => resolveScorecardConfig({ http: { dispatcher: { dispatch: () => true } as never } }))).toBe('http.dispatcher');
    expect(() => resolveScorecardConfig({ pool: { socket: { addresses: ['192.0.2.1'] } } })).toThrow(
      /`pool\.socket\.addresses` is the scenario's .*leave it out/,
    );
    expect(() => resolveScorecardConfig({ http: { proxy: 'http://proxy.internal:3128' } })).toThrow(/`http\.proxy` is the scenario's .*leave it out/);
  });

  it('finds at load what each row would find at run time: a bad layers edit, retry budget or circuit key', () => {
    expect(keyOf(() => resolveScorecardConfig({ http: { layers: (() => 42) as never } }))).toBe('http.layers');
    const boom = () => {
      throw new Error('boom');
    };
    expect(keyOf(() => resolveScorecardConfig({ http: { layers: boom } }))).toBe('http.layers');
    expect(() => resolveScorecardConfig({ http: { layers: boom } })).toThrow(/`http\.layers` threw .*boom/);
    expect(keyOf(() => resolveScorecardConfig({ http: { retryBudget: { ratioo: 0.5 } as never } }))).toBe('http.retryBudget.ratioo');
    expect(keyOf(() => resolveScorecardConfig({ http: { retryBudget: { ratio: -1 } } }))).toBe('http.retryBudget.ratio');
    expect(keyOf(() => resolveScorecardConfig({ http: { circuit: { nope: 1 } as never } }))).toBe('http.circuit.nope');
    let calls = 0;
    resolveScorecardConfig({
      http: {
        layers: (d: unknown[]) => {
          calls += 1;
          return d;
        },
      },
    });
    expect(calls).toBe(1);
  });

  it('checks a hand-made preset whole, naming the part it lacks', () => {
    expect(keyOf(() => resolveScorecardConfig({ preset: { http: { junk: 1 }, loadBalancer: {} } as never }))).toBe('preset.socket');
    const { circuit: _circuit, ...noCircuit } = resolvePreset({ infra: 'aws-alb' });
    expect(keyOf(() => resolveScorecardConfig({ preset: noCircuit as never }))).toBe('preset.circuit');
    expect(keyOf(() => resolveScorecardConfig({ preset: { ...resolvePreset({ infra: 'aws-alb' }), env: 5 } as never }))).toBe('preset.env');
    const preset = resolvePreset({ infra: 'aws-alb' });
    expect(keyOf(() => resolveScorecardConfig({ preset: { ...preset, http: { ...preset.http, junk: 1 } } as never }))).toBe('preset.http.junk');
  });

  it('refuses a Promise, Date or Map instead of running the defaults, saying what it got', () => {
    const pending = Promise.resolve({ http: { deadlineMs: 50 } });
    expect(keyOf(() => resolveScorecardConfig(pending))).toBe('scorecard config');
    expect(() => resolveScorecardConfig(pending)).toThrow(/a Promise: await it first/);
    expect(() => resolveScorecardConfig(new Date())).toThrow(/a Date/);
    expect(() => resolveScorecardConfig(new Map())).toThrow(/a Map/);
    expect(keyOf(() => resolveScorecardConfig({ http: new Map() }))).toBe('http');
    expect(resolveScorecardConfig(Object.assign(Object.create(null), { socket: { stallTimeoutMs: 5_000 } })).effectiveSocket.stallTimeoutMs).toBe(5_000);
  });

  it('runScorecard() rejects an invalid config before running anything, and hands a valid one to every scenario', async () => {
    let ran = false;
    const probe = {
      id: 'FM-99',
      title: 't',
      bound: 'b',
      naiveExpectation: 'n',
      requires: [],
      budgetMs: 1_000,
      async run(ctx: { config: { effectiveSocket: { connectTimeoutMs: number } } }) {
        ran = true;
        const v = ctx.config.effectiveSocket.connectTimeoutMs;
        return { naive: { value: v, unit: 'ms' as const, text: '', ok: true }, breakwater: { value: v, unit: 'ms' as const, text: '', ok: true } };
      },
    };
    await expect(runScorecard([probe], { config: { socket: { connectTimeoutMs: 'soon' as unknown as number } } })).rejects.toThrow(/socket\.connectTimeoutMs/);
    expect(ran).toBe(false);
    const report = await runScorecard([probe], { config: { socket: { connectTimeoutMs: 4_321 } } });
    expect(report.rows[0]?.naive?.value).toBe(4_321);
  });
});

describe('configuredBound', () => {
  it("checks the user's bound, never past the ceiling, and says which options defeat it", () => {
    expect(configuredBound(10_000, 1_000, 20_000, 'stallTimeoutMs 10000', 'x is reported')).toEqual({ boundMs: 11_000 });
    expect(configuredBound(120_000, 1_000, 20_000, 'stallTimeoutMs 120000', 'a dead peer mid-request is reported')).toEqual({
      boundMs: 20_000,
      defeat: 'stallTimeoutMs 120000 → a dead peer mid-request is reported after 120 s, bound 20 s',
    });
    expect(configuredBound(Number.POSITIVE_INFINITY, 1_000, 20_000, 'stallTimeoutMs 0', 'y').defeat).toBe(
      'stallTimeoutMs 0 → y never (the option is off), bound 20 s',
    );
  });
});
