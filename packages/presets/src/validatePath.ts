import { BreakwaterError, describe } from '@breakwater/core';
import { clientIdleCeilingMs, PRESET_DEFAULTS, type PresetConfig, worstBackoffMs } from './defaults.js';

/**
 * One ordering that must hold between two numbers of a path. `left` and
 * `right` are config paths (`http.keepAliveTimeoutMs`); the message of a
 * violation names both with their values.
 */
export interface PathRule {
  left: string;
  right: string;
  /** Whether the rule applies to this path (an infinite limit, a disabled timer, a layer-7-only concern). */
  applies(c: PresetConfig): boolean;
  holds(c: PresetConfig): boolean;
  message(c: PresetConfig): string;
}

const ms = (v: number) => (Number.isFinite(v) ? `${v} ms` : 'no limit');
const lbName = (c: PresetConfig) => `load balancer \`${c.loadBalancer.name}\``;

/** Reads a number at `path` and checks it is one, so a hand-built config fails naming the key. */
function num(c: PresetConfig, path: string): number {
  let v: unknown = c;
  for (const part of path.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[part] : undefined;
  if (typeof v !== 'number' || Number.isNaN(v)) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`${path}\` to be a number of ms, got ${describe(v)}`, { details: { key: path } });
  }
  return v;
}

/** `left` must stay below the load balancer's idle timeout by max(1 s, 10 %). */
function belowLoadBalancerIdle(left: string): PathRule {
  const right = 'loadBalancer.idleTimeoutMs';
  return {
    left,
    right,
    applies: (c) => Number.isFinite(num(c, right)),
    holds: (c) => num(c, left) <= clientIdleCeilingMs(num(c, right)),
    message: (c) =>
      `\`${left}\` (${ms(num(c, left))}) must be below the idle timeout of ${lbName(c)} (\`${right}\`, ${ms(num(c, right))}) ` +
      `by max(${PRESET_DEFAULTS.clientIdleMarginMinMs} ms, ${PRESET_DEFAULTS.clientIdleMarginRatio * 100} %), i.e. at most ${clientIdleCeilingMs(num(c, right))} ms: ` +
      'otherwise a request can leave on a connection the load balancer is closing (FM-07)',
  };
}

/** `left` < `right` whenever both are finite and non-zero (0 disables a timer). */
function below(left: string, right: string, why: string, { orEqual = false } = {}): PathRule {
  return {
    left,
    right,
    applies: (c) => Number.isFinite(num(c, left)) && Number.isFinite(num(c, right)) && num(c, right) > 0,
    holds: (c) => (orEqual ? num(c, left) <= num(c, right) : num(c, left) < num(c, right)),
    message: (c) => `\`${left}\` (${ms(num(c, left))}) must be ${orEqual ? 'at most' : 'below'} \`${right}\` (${ms(num(c, right))}): ${why}`,
  };
}

function equal(left: string, right: string, why: string): PathRule {
  return {
    left,
    right,
    applies: () => true,
    holds: (c) => num(c, left) === num(c, right),
    message: (c) => `\`${left}\` (${num(c, left)}) must equal \`${right}\` (${num(c, right)}): ${why}`,
  };
}

const deadlineHoldsAttempts: PathRule = {
  left: 'http.attempts × http.attemptTimeoutMs + backoff',
  right: 'http.deadlineMs',
  applies: () => true,
  holds: (c) => num(c, 'http.attempts') * num(c, 'http.attemptTimeoutMs') + worstBackoffMs(c.retry, num(c, 'http.attempts')) <= num(c, 'http.deadlineMs'),
  message: (c) => {
    const attempts = num(c, 'http.attempts');
    const each = num(c, 'http.attemptTimeoutMs');
    const backoff = worstBackoffMs(c.retry, attempts);
    return (
      `\`http.attempts\` × \`http.attemptTimeoutMs\` + backoff (${attempts} × ${each} + ${backoff} = ${attempts * each + backoff} ms) ` +
      `must fit in \`http.deadlineMs\` (${num(c, 'http.deadlineMs')} ms): otherwise the last attempts never get their time`
    );
  },
};

const keepAliveOnLayer4: PathRule = {
  left: 'socket.keepAliveIdleMs',
  right: 'loadBalancer.idleTimeoutMs',
  applies: (c) => c.loadBalancer.layer === 4 && Number.isFinite(num(c, 'loadBalancer.idleTimeoutMs')),
  holds: (c) => num(c, 'socket.keepAliveIdleMs') > 0 && num(c, 'socket.keepAliveIdleMs') < num(c, 'loadBalancer.idleTimeoutMs'),
  message: (c) =>
    `\`socket.keepAliveIdleMs\` (${num(c, 'socket.keepAliveIdleMs')} ms${num(c, 'socket.keepAliveIdleMs') === 0 ? ': keepalive off' : ''}) ` +
    `must be above 0 and below the flow idle timeout of ${lbName(c)} (\`loadBalancer.idleTimeoutMs\`, ${ms(num(c, 'loadBalancer.idleTimeoutMs'))}): ` +
    'a layer-4 load balancer forgets silent flows, and only keepalive probes keep a long idle connection known to it',
};

/** Every rule, in the order they are checked. Exported for the docs and the table-driven tests. */
export const PATH_RULES: readonly PathRule[] = Object.freeze([
  // Client idle < load balancer idle.
  belowLoadBalancerIdle('http.keepAliveTimeoutMs'),
  belowLoadBalancerIdle('pool.idleTimeoutMs'),
  // Load balancer idle < server idle (the ALB 502, FM-16).
  {
    ...below('loadBalancer.upstreamIdleTimeoutMs', 'server.keepAliveTimeoutMs', ''),
    left: 'server.keepAliveTimeoutMs',
    right: 'loadBalancer.upstreamIdleTimeoutMs',
    message: (c: PresetConfig) =>
      `\`server.keepAliveTimeoutMs\` (${ms(num(c, 'server.keepAliveTimeoutMs'))}) must be above the upstream idle timeout of ${lbName(c)} ` +
      `(\`loadBalancer.upstreamIdleTimeoutMs\`, ${ms(num(c, 'loadBalancer.upstreamIdleTimeoutMs'))}): ` +
      'otherwise the server closes a connection the load balancer is about to reuse, and the client gets a 502 (FM-16)',
  },
  // Client idle < server idle (FM-07 without a load balancer).
  below('http.keepAliveTimeoutMs', 'server.keepAliveTimeoutMs', 'the client must close an idle connection before the server does (FM-07)'),
  below('pool.idleTimeoutMs', 'server.keepAliveTimeoutMs', 'the client must close an idle connection before the server does (FM-07)'),
  below('server.keepAliveTimeoutMs', 'server.headersTimeoutMs', 'the headers timer must never cut an idle keep-alive connection'),
  below('server.headersTimeoutMs', 'server.requestTimeoutMs', 'Node requires headersTimeout ≤ requestTimeout', { orEqual: true }),
  // Lifetimes below the infrastructure's limits.
  below('pool.maxLifetimeMs', 'loadBalancer.maxConnectionLifetimeMs', 'the pool must retire a connection before the load balancer ends it under a request'),
  // Attempts inside the infrastructure's response timeout, and inside the deadline.
  below(
    'http.attemptTimeoutMs',
    'loadBalancer.responseTimeoutMs',
    'otherwise the load balancer answers 504 before the attempt times out, and the error looks like the server’s',
  ),
  below('socket.connectTimeoutMs', 'http.attemptTimeoutMs', 'a connect that cannot fit in an attempt never succeeds', { orEqual: true }),
  deadlineHoldsAttempts,
  equal('retry.attempts', 'http.attempts', 'one number of attempts per path (set either; the other follows)'),
  equal('retry.attemptTimeoutMs', 'http.attemptTimeoutMs', 'one attempt timeout per path (set either; the other follows)'),
  equal('circuit.attemptTimeoutMs', 'http.attemptTimeoutMs', 'one attempt timeout per path (set either; the other follows)'),
  equal('retry.baseDelayMs', 'http.baseDelayMs', 'one backoff per path (set either; the other follows)'),
  equal('retry.maxDelayMs', 'http.maxDelayMs', 'one backoff per path (set either; the other follows)'),
  keepAliveOnLayer4,
]);

/**
 * Checks that the numbers of one path agree: client idle < load balancer idle
 * < server idle, lifetimes and attempts inside the infrastructure's limits,
 * and a deadline that holds every attempt. Returns the config unchanged.
 *
 * @throws BreakwaterError `BW_ERR_INVALID_OPTION` naming the two numbers that conflict (`details.key`, `details.conflictsWith`).
 * @example
 * validatePath(resolvePreset({ infra: 'aws-alb' })); // at start-up, also for a config loaded from a file
 */
export function validatePath<C extends PresetConfig>(config: C): C {
  if (typeof config !== 'object' || config === null) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`config\` to be a preset config (resolvePreset()), got ${describe(config)}`, {
      details: { key: 'config' },
    });
  }
  for (const rule of PATH_RULES) {
    if (rule.applies(config) && !rule.holds(config)) {
      throw new BreakwaterError('BW_ERR_INVALID_OPTION', rule.message(config), { details: { key: rule.left, conflictsWith: rule.right } });
    }
  }
  return config;
}
