import { CIRCUIT_DEFAULTS, resolveCircuitOptions } from '@breakwater/circuit';
import { BreakwaterError, intRule, msRule, resolveOptions, validateNumber, validateOneOf, validateOptionsObject } from '@breakwater/core';
import { POOL_DEFAULTS, resolvePoolOptions } from '@breakwater/pool';
import { RETRY_DEFAULTS, resolveRetryOptions } from '@breakwater/retry';
import { resolveSocketOptions, SOCKET_DEFAULTS } from '@breakwater/socket';
import {
  clientIdleCeilingMs,
  ENV_NAMES,
  NODE_SERVER_DEFAULTS,
  PRESET_DEFAULTS,
  type PresetConfig,
  type PresetHttp,
  type PresetLoadBalancer,
  type PresetOverrides,
  type PresetSelection,
  type PresetServer,
  presetAttemptTimeoutMs,
  presetDeadlineMs,
} from './defaults.js';
import { ENVIRONMENTS } from './environments.js';
import { INFRA_NAMES, INFRA_PRESETS } from './infra.js';
import { validatePath } from './validatePath.js';

const SECTIONS = ['loadBalancer', 'socket', 'pool', 'http', 'retry', 'circuit', 'server'] as const;

/** Drops the injectable clock: a preset is numbers, printable and comparable. */
function numbersOf<T extends { clock: unknown }>(defaults: T): Omit<T, 'clock'> {
  const { clock: _clock, ...rest } = defaults;
  return rest;
}

function pick<T extends object, K extends string>(source: T, keys: readonly K[]): Pick<T, K & keyof T> {
  const out = {} as Record<string, unknown>;
  for (const k of keys) out[k] = (source as Record<string, unknown>)[k];
  return out as Pick<T, K & keyof T>;
}

/**
 * Runs a package's own validation and qualifies the key it names with the
 * section: "Expected `pool.max` …" instead of "Expected `max` …".
 */
function within<T>(section: string, resolve: () => T): T {
  try {
    return resolve();
  } catch (error) {
    const key = error instanceof BreakwaterError ? error.details.key : undefined;
    // Already qualified: `overrides.pool` (the section itself is wrong). A nested field (`reconnectBackoff.baseDelayMs`) is not.
    const qualifiedAlready = typeof key === 'string' && (key.startsWith('overrides.') || key.startsWith(`${section}.`));
    if (!(error instanceof BreakwaterError) || error.code !== 'BW_ERR_INVALID_OPTION' || typeof key !== 'string' || qualifiedAlready) throw error;
    const qualified = `${section}.${key}`;
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', error.message.split(`\`${key}\``).join(`\`${qualified}\``), {
      cause: error,
      details: { ...error.details, key: qualified },
    });
  }
}

const SOCKET_NUMBERS = numbersOf(SOCKET_DEFAULTS);
const POOL_NUMBERS = numbersOf(POOL_DEFAULTS);
const POOL_FLAT = ['reconnectBackoffMs', 'reconnectBackoffMaxMs'];
const RETRY_NUMBERS = numbersOf(RETRY_DEFAULTS);
const CIRCUIT_NUMBERS = numbersOf(CIRCUIT_DEFAULTS);

const limitMs = (v: unknown, k: string) => validateNumber(v, k, { min: 1, allowInfinity: true });
const LOAD_BALANCER_RULES = {
  layer: (v: unknown, k: string) => validateOneOf(v, k, [0, 4, 7] as const),
  idleTimeoutMs: limitMs,
  upstreamIdleTimeoutMs: limitMs,
  maxConnectionLifetimeMs: limitMs,
  responseTimeoutMs: limitMs,
};

const HTTP_RULES = {
  keepAliveTimeoutMs: msRule(1),
  connections: intRule(1, 100_000),
  deadlineMs: msRule(1),
  // 0 is off, as in @breakwater/http: each attempt is bounded by the client's headers timeout.
  attemptTimeoutMs: msRule(0, 3_600_000),
  attempts: intRule(1, 100),
  baseDelayMs: msRule(0, 3_600_000),
  maxDelayMs: msRule(0, 3_600_000),
} satisfies Record<keyof PresetHttp, unknown>;
// 0 disables a Node server timer; Node's timers take at most 2^31 − 1 ms.
const SERVER_RULES = { keepAliveTimeoutMs: msRule(0), headersTimeoutMs: msRule(0), requestTimeoutMs: msRule(0) };

function resolveLoadBalancer(selection: PresetSelection['infra'], overrides: unknown): PresetLoadBalancer {
  const { sources, ...numbers } = INFRA_PRESETS[selection];
  const given = within('loadBalancer', () => validateOptionsObject(overrides, 'overrides.loadBalancer', Object.keys(LOAD_BALANCER_RULES)));
  const resolved = within('loadBalancer', () => resolveOptions(given, 'overrides.loadBalancer', numbers, LOAD_BALANCER_RULES));
  return { name: selection, ...resolved, sources };
}

/**
 * One configuration for every package on the path through `infra`, for
 * `env`: the packages' defaults, combined so that the client's idle timeout
 * sits below the load balancer's (by max(1 s, 10 %)), the server's above it
 * (by 5 s), and the deadline holds every attempt. Overrides are applied per
 * section and validated like the rest; the result passes
 * {@link validatePath} and is deeply frozen.
 *
 * @throws BreakwaterError `BW_ERR_INVALID_OPTION` naming the key (an unknown preset lists the valid ones) or the two numbers that conflict.
 * @example
 * const preset = resolvePreset({ infra: 'aws-alb', env: 'production' });
 * preset.http.keepAliveTimeoutMs; // 30_000: below the ALB's 60 s
 * preset.server.keepAliveTimeoutMs; // 65_000: above it
 */
export function resolvePreset(selection: PresetSelection): PresetConfig {
  if (selection === undefined) throw invalidInfra(undefined);
  const given = validateOptionsObject<PresetSelection>(selection, 'resolvePreset()', ['infra', 'env', 'overrides']);
  const infra = validateOneOf(given.infra, 'infra', INFRA_NAMES);
  const env = validateOneOf(given.env ?? PRESET_DEFAULTS.env, 'env', ENV_NAMES);
  const o = validateOptionsObject<PresetOverrides>(given.overrides, 'overrides', SECTIONS);
  const environment = ENVIRONMENTS[env];
  const loadBalancer = resolveLoadBalancer(infra, o.loadBalancer);

  const socketGiven = within('socket', () => validateOptionsObject(o.socket, 'overrides.socket', Object.keys(SOCKET_NUMBERS)));
  const socket = numbersOf(within('socket', () => resolveSocketOptions({ ...SOCKET_NUMBERS, ...environment.socket, ...socketGiven }, 'overrides.socket')));

  // The pool closes idle connections before the load balancer can (never later than its own default).
  const poolBase = { ...POOL_NUMBERS, ...environment.pool };
  const idleTimeoutMs = Math.min(poolBase.idleTimeoutMs, clientIdleCeilingMs(loadBalancer.idleTimeoutMs));
  const poolDerived = { ...poolBase, idleTimeoutMs, validateAfterIdleMs: Math.min(poolBase.validateAfterIdleMs, Math.floor(idleTimeoutMs / 5)) };
  // The pool's deprecated flat names of `reconnectBackoff` still work here: given, they replace the default backoff.
  const poolGiven = within('pool', () =>
    validateOptionsObject<Record<string, unknown>>(o.pool, 'overrides.pool', [...Object.keys(POOL_NUMBERS), ...POOL_FLAT]),
  );
  const flat = POOL_FLAT.some((k) => poolGiven[k] !== undefined) ? { reconnectBackoff: undefined } : {};
  const poolResolved = within('pool', () => resolvePoolOptions({ ...poolDerived, ...flat, ...poolGiven, port: 1 }));
  const pool = pick(poolResolved, Object.keys(POOL_NUMBERS) as (keyof typeof POOL_NUMBERS)[]);

  // One number of attempts and one attempt timeout per path, whichever section sets it.
  const attempts =
    firstGiven(HTTP_RULES.attempts, ['http.attempts', o.http?.attempts], ['retry.attempts', o.retry?.attempts]) ??
    environment.http.attempts ??
    RETRY_NUMBERS.attempts;
  const attemptTimeoutMs =
    firstGiven(
      HTTP_RULES.attemptTimeoutMs,
      ['http.attemptTimeoutMs', o.http?.attemptTimeoutMs],
      ['retry.attemptTimeoutMs', o.retry?.attemptTimeoutMs],
      ['circuit.attemptTimeoutMs', o.circuit?.attemptTimeoutMs],
    ) ?? presetAttemptTimeoutMs(loadBalancer.responseTimeoutMs);

  // One backoff per path too: the HTTP client sleeps what the deadline was computed for.
  const baseDelayMs =
    firstGiven(HTTP_RULES.baseDelayMs, ['http.baseDelayMs', o.http?.baseDelayMs], ['retry.baseDelayMs', o.retry?.baseDelayMs]) ?? RETRY_NUMBERS.baseDelayMs;
  const maxDelayMs =
    firstGiven(HTTP_RULES.maxDelayMs, ['http.maxDelayMs', o.http?.maxDelayMs], ['retry.maxDelayMs', o.retry?.maxDelayMs]) ?? RETRY_NUMBERS.maxDelayMs;

  const retryGiven = within('retry', () => validateOptionsObject(o.retry, 'overrides.retry', Object.keys(RETRY_NUMBERS)));
  const retryResolved = within('retry', () =>
    resolveRetryOptions({ ...RETRY_NUMBERS, attempts, attemptTimeoutMs, baseDelayMs, maxDelayMs, ...retryGiven }, 'overrides.retry'),
  );
  const retry = pick(retryResolved, Object.keys(RETRY_NUMBERS) as (keyof typeof RETRY_NUMBERS)[]);

  const circuitGiven = within('circuit', () => validateOptionsObject(o.circuit, 'overrides.circuit', Object.keys(CIRCUIT_NUMBERS)));
  const circuitResolved = within('circuit', () => resolveCircuitOptions({ ...CIRCUIT_NUMBERS, attemptTimeoutMs, ...circuitGiven }, 'overrides.circuit'));
  const circuit = pick(circuitResolved, Object.keys(CIRCUIT_NUMBERS) as (keyof typeof CIRCUIT_NUMBERS)[]);

  // An HTTP connection is a pooled connection: the same idle limit and size; the deadline is the
  // smallest that holds every attempt at its full timeout plus the worst backoff (0, off: the client's default).
  const httpDerived: PresetHttp = {
    keepAliveTimeoutMs: pool.idleTimeoutMs,
    connections: pool.max,
    attempts,
    attemptTimeoutMs,
    deadlineMs: presetDeadlineMs(attempts, attemptTimeoutMs, retry),
    baseDelayMs,
    maxDelayMs,
  };
  const httpGiven = within('http', () => validateOptionsObject(o.http, 'overrides.http', Object.keys(httpDerived)));
  const http = within('http', () => resolveOptions<PresetHttp>({ ...httpDerived, ...httpGiven }, 'overrides.http', httpDerived, HTTP_RULES));

  // The server outlives every idle timer in front of it, and never lowers Node's own protections.
  const upstreamIdle = Number.isFinite(loadBalancer.upstreamIdleTimeoutMs) ? loadBalancer.upstreamIdleTimeoutMs : 0;
  const keepAliveTimeoutMs = Math.max(upstreamIdle, http.keepAliveTimeoutMs, pool.idleTimeoutMs) + PRESET_DEFAULTS.serverIdleMarginMs;
  const headersTimeoutMs = Math.max(NODE_SERVER_DEFAULTS.headersTimeoutMs, keepAliveTimeoutMs + PRESET_DEFAULTS.headersTimeoutMarginMs);
  const serverDerived: PresetServer = {
    keepAliveTimeoutMs,
    headersTimeoutMs,
    requestTimeoutMs: Math.max(NODE_SERVER_DEFAULTS.requestTimeoutMs, headersTimeoutMs),
  };
  const serverGiven = within('server', () => validateOptionsObject(o.server, 'overrides.server', Object.keys(serverDerived)));
  const server = within('server', () => resolveOptions<PresetServer>({ ...serverDerived, ...serverGiven }, 'overrides.server', serverDerived, SERVER_RULES));

  return deepFreeze(validatePath({ infra, env, loadBalancer, socket, pool, http, retry, circuit, server }));
}

/** The first override given, validated under its own qualified key. */
function firstGiven(rule: (v: unknown, k: string) => number, ...candidates: [string, unknown][]): number | undefined {
  for (const [key, value] of candidates) if (value !== undefined) return rule(value, key);
  return undefined;
}

function invalidInfra(value: unknown): BreakwaterError {
  return new BreakwaterError(
    'BW_ERR_INVALID_OPTION',
    `Expected \`infra\` to be one of ${INFRA_NAMES.map((n) => JSON.stringify(n)).join(', ')}, got ${String(value)}`,
    {
      details: { key: 'infra' },
    },
  );
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
