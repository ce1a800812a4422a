import { isBreakwaterError } from '@breakwater/core';
import { describe, expect, it } from 'vitest';
import type { PresetOverrides, PresetSelection } from './defaults.js';
import type { InfraName } from './infra.js';
import { resolvePreset } from './resolvePreset.js';
import { PATH_RULES, validatePath } from './validatePath.js';

// One row per rule of PATH_RULES: a path that breaks it, and the two numbers the message must name.
const CONFLICTS: { left: string; right: string; infra: InfraName; overrides: PresetOverrides; mentions: string[] }[] = [
  {
    left: 'http.keepAliveTimeoutMs',
    right: 'loadBalancer.idleTimeoutMs',
    infra: 'aws-alb',
    overrides: { http: { keepAliveTimeoutMs: 65_000 } },
    mentions: ['65000 ms', '60000 ms', '`aws-alb`', 'at most 54000 ms'],
  },
  {
    left: 'pool.idleTimeoutMs',
    right: 'loadBalancer.idleTimeoutMs',
    infra: 'aws-alb',
    overrides: { pool: { idleTimeoutMs: 58_000 }, http: { keepAliveTimeoutMs: 30_000 } },
    mentions: ['58000 ms', '60000 ms'],
  },
  {
    left: 'server.keepAliveTimeoutMs',
    right: 'loadBalancer.upstreamIdleTimeoutMs',
    infra: 'aws-alb',
    overrides: { server: { keepAliveTimeoutMs: 55_000 } },
    mentions: ['55000 ms', '60000 ms', '502'],
  },
  {
    left: 'http.keepAliveTimeoutMs',
    right: 'server.keepAliveTimeoutMs',
    infra: 'direct',
    overrides: { server: { keepAliveTimeoutMs: 20_000 } },
    mentions: ['30000 ms', '20000 ms'],
  },
  {
    left: 'pool.idleTimeoutMs',
    right: 'server.keepAliveTimeoutMs',
    infra: 'direct',
    overrides: { http: { keepAliveTimeoutMs: 10_000 }, server: { keepAliveTimeoutMs: 20_000 } },
    mentions: ['30000 ms', '20000 ms'],
  },
  {
    left: 'server.keepAliveTimeoutMs',
    right: 'server.headersTimeoutMs',
    infra: 'direct',
    overrides: { server: { keepAliveTimeoutMs: 70_000, headersTimeoutMs: 60_000 } },
    mentions: ['70000 ms', '60000 ms'],
  },
  {
    left: 'server.headersTimeoutMs',
    right: 'server.requestTimeoutMs',
    infra: 'direct',
    overrides: { server: { requestTimeoutMs: 40_000 } },
    mentions: ['60000 ms', '40000 ms'],
  },
  {
    left: 'pool.maxLifetimeMs',
    right: 'loadBalancer.maxConnectionLifetimeMs',
    infra: 'aws-alb',
    overrides: { pool: { maxLifetimeMs: 4_000_000 } },
    mentions: ['4000000 ms', '3600000 ms'],
  },
  {
    left: 'http.attemptTimeoutMs',
    right: 'loadBalancer.responseTimeoutMs',
    infra: 'gcp-lb',
    overrides: { http: { attemptTimeoutMs: 45_000 } },
    mentions: ['45000 ms', '30000 ms'],
  },
  {
    left: 'socket.connectTimeoutMs',
    right: 'http.attemptTimeoutMs',
    infra: 'direct',
    overrides: { http: { attemptTimeoutMs: 2_000 } },
    mentions: ['3000 ms', '2000 ms'],
  },
  {
    left: 'http.attempts × http.attemptTimeoutMs + backoff',
    right: 'http.deadlineMs',
    infra: 'direct',
    overrides: { http: { deadlineMs: 20_000 } },
    mentions: ['3 × 30000 + 300 = 90300 ms', '20000 ms'],
  },
  { left: 'retry.attempts', right: 'http.attempts', infra: 'direct', overrides: { http: { attempts: 2 }, retry: { attempts: 4 } }, mentions: ['(4)', '(2)'] },
  {
    left: 'retry.attemptTimeoutMs',
    right: 'http.attemptTimeoutMs',
    infra: 'direct',
    overrides: { http: { attemptTimeoutMs: 10_000 }, retry: { attemptTimeoutMs: 5_000 } },
    mentions: ['(5000)', '(10000)'],
  },
  {
    left: 'circuit.attemptTimeoutMs',
    right: 'http.attemptTimeoutMs',
    infra: 'direct',
    overrides: { http: { attemptTimeoutMs: 10_000 }, circuit: { attemptTimeoutMs: 5_000 } },
    mentions: ['(5000)', '(10000)'],
  },
  {
    left: 'retry.baseDelayMs',
    right: 'http.baseDelayMs',
    infra: 'direct',
    overrides: { http: { baseDelayMs: 50 }, retry: { baseDelayMs: 200 } },
    mentions: ['(200)', '(50)'],
  },
  {
    left: 'retry.maxDelayMs',
    right: 'http.maxDelayMs',
    infra: 'direct',
    overrides: { http: { maxDelayMs: 2_000 }, retry: { maxDelayMs: 5_000 } },
    mentions: ['(5000)', '(2000)'],
  },
  {
    left: 'socket.keepAliveIdleMs',
    right: 'loadBalancer.idleTimeoutMs',
    infra: 'azure-lb',
    overrides: { socket: { keepAliveIdleMs: 0 } },
    mentions: ['0 ms: keepalive off', '240000 ms', '`azure-lb`'],
  },
];

describe('validatePath', () => {
  it('has one conflict row per rule', () => {
    expect(CONFLICTS.map((c) => `${c.left} / ${c.right}`)).toEqual(PATH_RULES.map((r) => `${r.left} / ${r.right}`));
  });

  it.each(CONFLICTS)('rejects $left against $right, naming both numbers', ({ left, right, infra, overrides, mentions }) => {
    const selection: PresetSelection = { infra, env: 'production', overrides };
    let caught: unknown;
    try {
      resolvePreset(selection);
    } catch (error) {
      caught = error;
    }
    expect(isBreakwaterError(caught, 'BW_ERR_INVALID_OPTION'), String(caught)).toBe(true);
    const error = caught as Error & { details: Record<string, unknown> };
    const names = [left, right].flatMap((n) => n.split(/ × | \+ /).filter((p) => p.includes('.')));
    for (const name of names) expect(error.message).toContain(`\`${name}\``);
    for (const text of mentions) expect(error.message).toContain(text);
    expect(error.details).toMatchObject({ key: left, conflictsWith: right });
  });

  it('checks a config built elsewhere, naming a missing number', () => {
    const config = resolvePreset({ infra: 'nginx' });
    expect(validatePath(config)).toBe(config);
    const broken = { ...config, http: { ...config.http, keepAliveTimeoutMs: undefined } } as unknown as typeof config;
    expect(() => validatePath(broken)).toThrow(/Expected `http.keepAliveTimeoutMs` to be a number of ms, got undefined/);
    expect(() => validatePath(null as unknown as typeof config)).toThrow(/Expected `config`/);
  });
});
