import type net from 'node:net';
import {
  type BackoffShape,
  BreakwaterError,
  backoffRule,
  type Clock,
  foldBackoffAliases,
  intRule,
  MAX_TIMER_MS,
  monotonicClock,
  msRule,
  numberRule,
  type Rules,
  resolveTunables,
  validateClock,
  validateFunction,
  validateNumber,
  validatePort,
  validateString,
} from '@breakwater/core';
import type { ConnectOptions } from '@breakwater/socket';

/** `@breakwater/socket` connect options the pool passes through (TLS, addresses, keepalive…). */
export type PoolSocketOptions = Omit<ConnectOptions, 'host' | 'port' | 'signal'>;

/**
 * The protocol's own check that a connection still works, e.g. a `PING`
 * answered with `PONG`. Return (or resolve) `false`, throw or reject to mark
 * the connection invalid; it is then destroyed, never handed out and never
 * leaked. Abort work when `signal` fires (validation timeout or drain).
 */
export type Probe = (conn: net.Socket, signal: AbortSignal) => boolean | undefined | Promise<boolean | undefined>;

/** Opens one connection; must honour `signal` (drain) and should return a hardened socket. */
export type ConnectFactory = (context: { signal: AbortSignal }) => net.Socket | Promise<net.Socket>;

/** Tunables with defaults (the README's "Defaults" table is checked against them). */
export interface PoolTunables {
  /** Most connections open at once, borrowed or idle. @defaultValue 10 */
  max?: number;
  /**
   * Connections opened at start (warm-up) and kept open, borrowed or idle
   * (generic-pool's `min`); an evicted one is replaced at once.
   * @defaultValue 0
   */
  minIdle?: number;
  /**
   * An idle connection older than this is closed by the pool and never handed
   * out. Keep it below the idle timeout of every hop (load balancer, NAT,
   * server): half of the common 60 s LB idle timeout (FM-07). See {@link presetForPathIdle}.
   * @defaultValue 30_000
   */
  idleTimeoutMs?: number;
  /**
   * A connection is retired after this long, idle or at its next release
   * (HikariCP's maxLifetime), so servers can rebalance and nothing lives forever.
   * @defaultValue 1_800_000
   */
  maxLifetimeMs?: number;
  /**
   * Each connection's lifetime is shortened by a random fraction up to this,
   * so a fleet does not reconnect at once (HikariCP subtracts up to 2.5 %).
   * @defaultValue 0.025
   */
  maxLifetimeJitterRatio?: number;
  /**
   * A connection idle at least this long is run through `probe` before it is
   * handed out. The cheap checks (peer FIN/RST already received, unread
   * bytes) run on every borrow. 0 probes on every borrow.
   * @defaultValue 1_000
   */
  validateAfterIdleMs?: number;
  /** A probe slower than this counts as a failed one. @defaultValue 1_000 */
  validationTimeoutMs?: number;
  /**
   * `acquire()` rejects after this long: with the last connect error while
   * connects are failing (`BW_ERR_CONNECT_*`…), else `BW_ERR_POOL_EXHAUSTED`.
   * @defaultValue 5_000
   */
  acquireTimeoutMs?: number;
  /**
   * Callers allowed to wait at once (for a connection to come back or to
   * open); the next one gets `BW_ERR_POOL_EXHAUSTED` at once.
   * @defaultValue 1_000
   */
  maxWaiting?: number;
  /**
   * Consecutive connection-level failures on real traffic (reported through
   * `release(conn, { failed: true })` or a `use()` rejection) that mark the
   * endpoint unhealthy (FM-08). 0 disables passive health.
   * @defaultValue 5
   */
  unhealthyAfterFailures?: number;
  /**
   * While unhealthy, `acquire()` fails fast with `BW_ERR_CIRCUIT_OPEN` for
   * this long; then one trial borrow on a fresh connection decides.
   * @defaultValue 5_000
   */
  unhealthyForMs?: number;
  /**
   * Reconnect delay after a failed connect, in ms: `baseDelayMs` before the
   * first retry, doubling per consecutive failure up to `maxDelayMs`, with
   * equal jitter (AWS, "Exponential Backoff And Jitter"). `baseDelayMs` ≥ 1: no busy loop.
   * @defaultValue { baseDelayMs: 100, maxDelayMs: 5_000 }
   */
  reconnectBackoff?: Partial<BackoffShape>;
  /**
   * A connection borrowed longer than this emits `leaked` with the borrower's
   * stack. Capturing that stack costs ≈ 2 µs per acquire, so it is off by
   * default, as in HikariCP. 0 disables.
   * @defaultValue 0
   */
  leakWarningMs?: number;
  /** How long `drain()` waits for borrowed connections before destroying them. @defaultValue 10_000 */
  drainTimeoutMs?: number;
  /** Injected for tests. @defaultValue the monotonic clock */
  clock?: Clock;
}

export interface PoolOptions extends PoolTunables {
  /** Host for the default connector. @defaultValue 'localhost' */
  host?: string;
  /** Port for the default connector; required unless `connect` is given. */
  port?: number;
  /** Opens a connection instead of `@breakwater/socket`'s `connect({ host, port, ...socket })`. */
  connect?: ConnectFactory;
  /**
   * Passed to `@breakwater/socket`'s `connect()` (TLS, addresses, keepalive,
   * timeouts); a `connect` factory's socket is hardened with the socket options among them.
   */
  socket?: PoolSocketOptions;
  /** The protocol's validation, run on borrow after `validateAfterIdleMs` idle. */
  probe?: Probe;
  /** @deprecated Use `reconnectBackoff.baseDelayMs`; removed in the next release. */
  reconnectBackoffMs?: number;
  /** @deprecated Use `reconnectBackoff.maxDelayMs`; removed in the next release. */
  reconnectBackoffMaxMs?: number;
}

export type ResolvedPoolTunables = Omit<Required<PoolTunables>, 'reconnectBackoff'> & { reconnectBackoff: BackoffShape };

export interface ResolvedPoolOptions extends ResolvedPoolTunables {
  host: string;
  port: number | undefined;
  connect: ConnectFactory | undefined;
  socket: PoolSocketOptions;
  probe: Probe | undefined;
}

/** The idle timeout of a typical load balancer (AWS ALB, GCP, Azure: 60 s or more). */
export const COMMON_PATH_IDLE_MS = 60_000;
/** The pool's idle timeout as a fraction of the path's: half leaves room for latency and timer slack. */
export const IDLE_TIMEOUT_RATIO = 0.5;

export const POOL_DEFAULTS = Object.freeze({
  max: 10,
  minIdle: 0,
  idleTimeoutMs: 30_000,
  maxLifetimeMs: 1_800_000,
  maxLifetimeJitterRatio: 0.025,
  validateAfterIdleMs: 1_000,
  validationTimeoutMs: 1_000,
  acquireTimeoutMs: 5_000,
  maxWaiting: 1_000,
  unhealthyAfterFailures: 5,
  unhealthyForMs: 5_000,
  reconnectBackoff: Object.freeze({ baseDelayMs: 100, maxDelayMs: 5_000 }),
  leakWarningMs: 0,
  drainTimeoutMs: 10_000,
  clock: monotonicClock,
}) satisfies ResolvedPoolTunables;

const RECONNECT_RULES: Rules<BackoffShape> = { baseDelayMs: msRule(1), maxDelayMs: msRule(1) };
const RECONNECT_ALIASES = { baseDelayMs: 'reconnectBackoffMs', maxDelayMs: 'reconnectBackoffMaxMs' } as const;

const RULES = {
  max: intRule(1, 100_000),
  minIdle: intRule(0, 100_000),
  idleTimeoutMs: msRule(1),
  maxLifetimeMs: msRule(1),
  maxLifetimeJitterRatio: numberRule(0, 0.5),
  validateAfterIdleMs: msRule(0),
  validationTimeoutMs: msRule(1),
  acquireTimeoutMs: msRule(1),
  maxWaiting: intRule(1, 1_000_000),
  unhealthyAfterFailures: intRule(0, 1_000),
  unhealthyForMs: msRule(1),
  reconnectBackoff: backoffRule(POOL_DEFAULTS.reconnectBackoff, RECONNECT_RULES),
  leakWarningMs: msRule(0),
  drainTimeoutMs: msRule(0),
  clock: validateClock,
} satisfies Rules<ResolvedPoolTunables>;

const OTHER_KEYS = ['host', 'port', 'connect', 'socket', 'probe'] as const;

function invalid(key: string, message: string): BreakwaterError {
  return new BreakwaterError('BW_ERR_INVALID_OPTION', message, { details: { key } });
}

/**
 * Validates `createPool()` options and fills in defaults.
 * @throws BreakwaterError `BW_ERR_INVALID_OPTION` naming the key and its legal range.
 */
export function resolvePoolOptions(options: PoolOptions): ResolvedPoolOptions {
  if (options === undefined) throw invalid('port', 'Expected `port` (or a `connect` factory) in createPool() options, got undefined');
  // The flat names of an earlier release, folded into `reconnectBackoff` (issue #17).
  const folded = foldBackoffAliases(options, 'reconnectBackoff', RECONNECT_ALIASES, POOL_DEFAULTS.reconnectBackoff, RECONNECT_RULES);
  const { tunables: t, others: given } = resolveTunables<ResolvedPoolTunables, PoolOptions>(folded, 'createPool() options', POOL_DEFAULTS, RULES, OTHER_KEYS);
  if (t.minIdle > t.max) throw invalid('minIdle', `Expected \`minIdle\` to be at most \`max\` (${t.max}), got ${t.minIdle}`);
  const connect = given.connect === undefined ? undefined : validateFunction<ConnectFactory>(given.connect, 'connect');
  const port = given.port === undefined ? undefined : validatePort(given.port);
  if (connect === undefined && (port === undefined || port === 0)) {
    throw invalid('port', `Expected \`port\` to be an integer between 1 and 65535 (or a \`connect\` factory), got ${String(given.port)}`);
  }
  if (given.socket !== undefined && (typeof given.socket !== 'object' || given.socket === null)) {
    throw invalid('socket', 'Expected `socket` to be socket options (see @breakwater/socket)');
  }
  return {
    ...t,
    host: given.host === undefined ? 'localhost' : validateString(given.host, 'host'),
    port,
    connect,
    socket: given.socket ?? {},
    probe: given.probe === undefined ? undefined : validateFunction<Probe>(given.probe, 'probe'),
  };
}

/**
 * Pool timings for a path whose tightest idle timeout (load balancer, NAT,
 * server keep-alive) is `pathIdleMs`: the pool closes idle connections at
 * half of it, and probes any connection idle for a tenth of it (at most the
 * default 1 s). `presetForPathIdle(COMMON_PATH_IDLE_MS)` gives the defaults.
 *
 * @example
 * createPool({ host, port, ...presetForPathIdle(350_000) }) // AWS NLB: 350 s
 */
export function presetForPathIdle(pathIdleMs: number): Pick<ResolvedPoolTunables, 'idleTimeoutMs' | 'validateAfterIdleMs'> {
  validateNumber(pathIdleMs, 'pathIdleMs', { min: 2, max: MAX_TIMER_MS });
  const idleTimeoutMs = Math.max(1, Math.floor(pathIdleMs * IDLE_TIMEOUT_RATIO));
  return { idleTimeoutMs, validateAfterIdleMs: Math.min(POOL_DEFAULTS.validateAfterIdleMs, Math.floor(idleTimeoutMs / 5)) };
}
