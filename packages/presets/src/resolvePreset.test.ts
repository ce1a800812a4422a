import { CIRCUIT_DEFAULTS } from '@breakwater/circuit';
import { isBreakwaterError } from '@breakwater/core';
import { POOL_DEFAULTS } from '@breakwater/pool';
import { RETRY_DEFAULTS } from '@breakwater/retry';
import { SOCKET_DEFAULTS } from '@breakwater/socket';
import { describe, expect, it } from 'vitest';
import { clientIdleCeilingMs, ENV_NAMES, type PresetSelection, presetAttemptTimeoutMs, presetDeadlineMs, worstBackoffMs } from './defaults.js';
import { ENVIRONMENTS } from './environments.js';
import { INFRA_NAMES, INFRA_PRESETS } from './infra.js';
import { resolvePreset } from './resolvePreset.js';
import { validatePath } from './validatePath.js';

const { clock: _s, ...socketNumbers } = SOCKET_DEFAULTS;
const { clock: _p, ...poolNumbers } = POOL_DEFAULTS;
const { clock: _r, ...retryNumbers } = RETRY_DEFAULTS;
const { clock: _c, ...circuitNumbers } = CIRCUIT_DEFAULTS;

function errorOf(fn: () => unknown): Error & { code?: string; details?: Record<string, unknown> } {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

const ALL = INFRA_NAMES.flatMap((infra) => ENV_NAMES.map((env) => ({ infra, env })));

describe('resolvePreset', () => {
  it.each(ALL)('$infra / $env resolves, passes validatePath and is deeply frozen', ({ infra, env }) => {
    const c = resolvePreset({ infra, env });
    expect(validatePath(c)).toBe(c);
    for (const v of [c, c.loadBalancer, c.socket, c.pool, c.http, c.retry, c.circuit, c.server]) expect(Object.isFrozen(v)).toBe(true);
    const lb = INFRA_PRESETS[infra];
    // Client idle < load balancer idle (with the margin) < server idle.
    expect(c.http.keepAliveTimeoutMs).toBeLessThanOrEqual(clientIdleCeilingMs(lb.idleTimeoutMs));
    expect(c.pool.idleTimeoutMs).toBeLessThan(c.server.keepAliveTimeoutMs);
    if (Number.isFinite(lb.upstreamIdleTimeoutMs)) expect(c.server.keepAliveTimeoutMs).toBe(lb.upstreamIdleTimeoutMs + 5_000);
    expect(c.server.headersTimeoutMs).toBeGreaterThan(c.server.keepAliveTimeoutMs);
    expect(c.http.deadlineMs).toBe(c.http.attempts * c.http.attemptTimeoutMs + worstBackoffMs(c.retry, c.http.attempts));
  });

  it.each(ALL)('$infra / $env only combines the packages’ defaults (departures are explained)', ({ infra, env }) => {
    const c = resolvePreset({ infra, env });
    const why = ENVIRONMENTS[env].why;
    expect(c.socket).toEqual(socketNumbers);
    // One attempt timeout per path: http's headers timeout default, below the load balancer's response timeout.
    expect(c.http.attemptTimeoutMs).toBe(presetAttemptTimeoutMs(INFRA_PRESETS[infra].responseTimeoutMs));
    expect(c.circuit).toEqual({ ...circuitNumbers, attemptTimeoutMs: c.http.attemptTimeoutMs });
    expect(c.retry).toEqual({ ...retryNumbers, attempts: c.http.attempts, attemptTimeoutMs: c.http.attemptTimeoutMs });
    if (c.http.attempts !== RETRY_DEFAULTS.attempts) expect(why['http.attempts']).toBeDefined();
    for (const [key, value] of Object.entries(c.pool)) {
      if (value === poolNumbers[key as keyof typeof poolNumbers]) continue;
      // Lowered for the path (idle below the load balancer's), or an environment departure with its reason.
      const derived = key === 'idleTimeoutMs' || key === 'validateAfterIdleMs';
      expect(derived || why[`pool.${key}`] !== undefined, `pool.${key} = ${value} needs a reason`).toBe(true);
    }
    expect(c.http.connections).toBe(c.pool.max);
    expect(c.http.keepAliveTimeoutMs).toBe(c.pool.idleTimeoutMs);
  });

  it('gives the numbers of the ALB fix', () => {
    const c = resolvePreset({ infra: 'aws-alb', env: 'production' });
    expect(c.loadBalancer).toMatchObject({ name: 'aws-alb', idleTimeoutMs: 60_000 });
    expect(c.pool.idleTimeoutMs).toBe(POOL_DEFAULTS.idleTimeoutMs);
    expect(c.server).toEqual({ keepAliveTimeoutMs: 65_000, headersTimeoutMs: 66_000, requestTimeoutMs: 300_000 });
    expect(c.http).toEqual({
      keepAliveTimeoutMs: 30_000,
      connections: 10,
      attempts: 3,
      attemptTimeoutMs: 30_000,
      deadlineMs: 90_300,
      baseDelayMs: 100,
      maxDelayMs: 10_000,
    });
    expect(JSON.parse(JSON.stringify(c)).env).toBe('production');
  });

  it('defaults env to production and lowers the idle timeouts for a short load balancer idle', () => {
    const c = resolvePreset({ infra: 'haproxy', overrides: { loadBalancer: { idleTimeoutMs: 8_000, upstreamIdleTimeoutMs: 12_000 } } });
    expect(c.env).toBe('production');
    expect(c.pool.idleTimeoutMs).toBe(7_000); // 8 s − max(1 s, 0.8 s)
    expect(c.pool.validateAfterIdleMs).toBe(1_000);
    expect(c.http.keepAliveTimeoutMs).toBe(7_000);
    expect(c.server.keepAliveTimeoutMs).toBe(17_000);
    expect(c.server.headersTimeoutMs).toBe(60_000); // never below Node's own
  });

  it('applies overrides per section, and one attempts/attempt timeout setting everywhere', () => {
    const c = resolvePreset({
      infra: 'kubernetes',
      env: 'serverless',
      overrides: { loadBalancer: { idleTimeoutMs: 350_000 }, retry: { attempts: 4 }, circuit: { attemptTimeoutMs: 5_000 }, pool: { max: 4 } },
    });
    expect(c.loadBalancer.idleTimeoutMs).toBe(350_000);
    expect(c.http).toMatchObject({ attempts: 4, attemptTimeoutMs: 5_000, connections: 4, deadlineMs: 4 * 5_000 + 100 + 200 + 400 });
    expect(c.retry).toMatchObject({ attempts: 4, attemptTimeoutMs: 5_000 });
    expect(c.circuit.attemptTimeoutMs).toBe(5_000);
    expect(c.pool).toMatchObject({ max: 4, minIdle: 0, idleTimeoutMs: 10_000, validateAfterIdleMs: 0 });
  });

  it.each(ALL)('$infra / $env lets a healthy server think 25 s, unless its load balancer cuts first (DC-01)', ({ infra, env }) => {
    const c = resolvePreset({ infra, env });
    const thinkMs = 25_000;
    if (INFRA_PRESETS[infra].responseTimeoutMs <= thinkMs) {
      // Envoy's 15 s route timeout answers 504 first: the attempt gives up just before it.
      expect(c.http.attemptTimeoutMs).toBe(clientIdleCeilingMs(INFRA_PRESETS[infra].responseTimeoutMs));
      return;
    }
    expect(c.http.attemptTimeoutMs).toBeGreaterThan(thinkMs);
    expect(c.http.deadlineMs).toBeGreaterThan(thinkMs);
  });

  it('derives the attempt timeout from the load balancer: 30 s, or below its response timeout', () => {
    expect(resolvePreset({ infra: 'nginx' }).http.attemptTimeoutMs).toBe(30_000);
    expect(resolvePreset({ infra: 'gcp-lb' }).http.attemptTimeoutMs).toBe(27_000); // 30 s − max(1 s, 3 s)
    expect(resolvePreset({ infra: 'envoy' }).http.attemptTimeoutMs).toBe(13_500); // 15 s − max(1 s, 1.5 s)
    expect(resolvePreset({ infra: 'direct', overrides: { loadBalancer: { responseTimeoutMs: 5_000 } } }).circuit.attemptTimeoutMs).toBe(4_000);
  });

  it('takes attemptTimeoutMs 0 (off, as in @breakwater/http): the deadline is the client default', () => {
    const c = resolvePreset({ infra: 'gcp-lb', overrides: { http: { attemptTimeoutMs: 0 } } });
    expect(c.http).toMatchObject({ attemptTimeoutMs: 0, deadlineMs: 30_000 });
    expect(c.retry.attemptTimeoutMs).toBe(0);
    expect(c.circuit.attemptTimeoutMs).toBe(0);
    expect(presetDeadlineMs(3, 0, { jitter: 'full', baseDelayMs: 20_000, maxDelayMs: 20_000 })).toBe(40_000);
  });

  it("takes the pool's reconnect backoff nested, or by its deprecated flat names", () => {
    const nested = resolvePreset({ infra: 'direct', overrides: { pool: { reconnectBackoff: { maxDelayMs: 800 } } } });
    expect(nested.pool.reconnectBackoff).toEqual({ baseDelayMs: 100, maxDelayMs: 800 });
    const flat = resolvePreset({ infra: 'direct', overrides: { pool: { reconnectBackoffMs: 20 } } } as unknown as PresetSelection);
    expect(flat.pool.reconnectBackoff).toEqual({ baseDelayMs: 20, maxDelayMs: 5_000 });
    expect(flat.pool).not.toHaveProperty('reconnectBackoffMs');
  });

  it('keeps one backoff per path: set in `retry` or `http`, the other section follows', () => {
    const fromRetry = resolvePreset({ infra: 'direct', overrides: { retry: { baseDelayMs: 50, maxDelayMs: 2_000 } } });
    expect(fromRetry.http).toMatchObject({ baseDelayMs: 50, maxDelayMs: 2_000, deadlineMs: 3 * 30_000 + 50 + 100 });
    const fromHttp = resolvePreset({ infra: 'direct', overrides: { http: { baseDelayMs: 50, maxDelayMs: 2_000 } } });
    expect(fromHttp.retry).toMatchObject({ baseDelayMs: 50, maxDelayMs: 2_000 });
    expect(fromHttp.http).toEqual(fromRetry.http);
  });

  it('rejects unknown presets with the valid names', () => {
    const infra = errorOf(() => resolvePreset({ infra: 'aws-elb' } as unknown as PresetSelection));
    expect(infra.code).toBe('BW_ERR_INVALID_OPTION');
    expect(infra.message).toMatch(/`infra`.*"aws-alb", "aws-nlb", "gcp-lb".*"direct", got "aws-elb"/);
    expect(errorOf(() => resolvePreset({ infra: 'direct', env: 'staging' } as unknown as PresetSelection)).message).toMatch(
      /`env`.*"development", "production", "serverless", got "staging"/,
    );
    expect(errorOf(() => resolvePreset(undefined as unknown as PresetSelection)).message).toMatch(/`infra` to be one of .*got undefined/);
  });

  it.each([
    [{ pool: { max: 0 } }, /Expected `pool.max` to be an integer between 1 and 100000, got 0/, 'pool.max'],
    [{ socket: { keepAliveIdleMs: -5 } }, /`socket.keepAliveIdleMs`/, 'socket.keepAliveIdleMs'],
    [{ http: { deadlineMs: 'soon' } }, /Expected `http.deadlineMs` to be an integer between 1 and 2147483647, got "soon"/, 'http.deadlineMs'],
    [{ http: { attempts: 0 } }, /Expected `http.attempts` to be an integer between 1 and 100, got 0/, 'http.attempts'],
    [{ retry: { jitter: 'none' } }, /`retry.jitter`/, 'retry.jitter'],
    [{ circuit: { resetJitterRatio: 2 } }, /`circuit.resetJitterRatio`/, 'circuit.resetJitterRatio'],
    [{ server: { keepAliveTimeoutMs: -1 } }, /`server.keepAliveTimeoutMs`/, 'server.keepAliveTimeoutMs'],
    [{ loadBalancer: { idleTimeoutMs: 0 } }, /`loadBalancer.idleTimeoutMs`/, 'loadBalancer.idleTimeoutMs'],
    [{ loadBalancer: { layer: 3 } }, /`loadBalancer.layer`/, 'loadBalancer.layer'],
    [{ pool: { idleTimeout: 5 } }, /Unknown option `pool.idleTimeout`.*did you mean `idleTimeoutMs`/, 'pool.idleTimeout'],
    [{ pool: { clock: {} } }, /Unknown option `pool.clock`/, 'pool.clock'],
    [{ pool: { reconnectBackoff: { baseDelayMs: 0 } } }, /`pool.reconnectBackoff.baseDelayMs`/, 'pool.reconnectBackoff.baseDelayMs'],
    [{ pool: { reconnectBackoff: {}, reconnectBackoffMs: 50 } }, /either `pool.reconnectBackoff` or its deprecated flat form/, 'pool.reconnectBackoff'],
    [{ proxy: {} }, /Unknown option `proxy` in overrides/, 'proxy'],
  ])('rejects bad overrides naming the key: %j', (overrides, message, key) => {
    const error = errorOf(() => resolvePreset({ infra: 'aws-alb', overrides } as unknown as PresetSelection));
    expect(isBreakwaterError(error, 'BW_ERR_INVALID_OPTION')).toBe(true);
    expect(error.message).toMatch(message);
    expect(error.details?.key).toBe(key);
  });

  it('rejects a selection that is not an options object', () => {
    expect(errorOf(() => resolvePreset('aws-alb' as unknown as PresetSelection)).message).toMatch(/Expected `resolvePreset\(\)` to be an options object/);
    expect(errorOf(() => resolvePreset({ infra: 'aws-alb', overrides: { http: 5 } } as unknown as PresetSelection)).message).toMatch(/`overrides.http`/);
  });
});
