import { type Clock, intRule, monotonicClock, msRule, type Rules, resolveOptions, validateBoolean, validateClock, validateNumber } from '@breakwater/core';

/**
 * Options shared by {@link connect} and {@link harden}. Every field has a
 * default that is safe with no options at all; units are in the names.
 */
export interface SocketOptions {
  /**
   * Disable Nagle's algorithm so a small write is sent at once instead of
   * waiting up to one delayed-ACK (≈40 ms) for the previous one (FM-04).
   * @defaultValue true
   */
  noDelay?: boolean;
  /**
   * Idle time before the first keepalive probe. With the interval and count
   * below, a dead idle peer is detected in ≤ 5 + 2 × 5 = 15 s (FM-01) instead
   * of the kernel's 2 h 11 min. Set 0 to disable keepalive.
   * @defaultValue 5_000
   */
  keepAliveIdleMs?: number;
  /**
   * Time between unanswered keepalive probes. Applied natively on Node ≥ 24
   * (4-argument `setKeepAlive`) or through `setsockopt`; otherwise libuv's
   * 1 s applies (see `capabilities()`).
   * @defaultValue 2_000
   */
  keepAliveIntervalMs?: number;
  /**
   * Unanswered probes before the kernel drops the connection (libuv's fallback: 10).
   * @defaultValue 5
   */
  keepAliveCount?: number;
  /**
   * TCP_USER_TIMEOUT: how long written data may stay unacknowledged before
   * the kernel kills the connection with ETIMEDOUT (FM-02; the kernel's own
   * default, tcp_retries2 = 15, is ≈ 15 minutes). Linux, through the optional
   * native binding; elsewhere the stall watchdog covers it. 0 disables.
   * @defaultValue 10_000
   */
  userTimeoutMs?: number;
  /**
   * The stall watchdog: no progress for this long while progress is owed →
   * the socket is destroyed with BW_ERR_STALLED (FM-06 PMTU black holes,
   * FM-02 without TCP_USER_TIMEOUT). Owed means: bytes we sent stay
   * unacknowledged (read from TCP_INFO on Linux with koffi; elsewhere, bytes
   * still waiting in this process), or an expectation is open (see
   * `expectResponseAfterWrite`, `guard.expect()`). A peer that acknowledged
   * our request and is only thinking is never stalled by the first rule.
   * 0 disables.
   * @defaultValue 10_000
   */
  stallTimeoutMs?: number;
  /**
   * Whether each write opens an expectation that the next byte read closes:
   * for raw request/response protocols whose replies are due within
   * `stallTimeoutMs` (the drivers raise it above their query timeout). HTTP
   * turns it off: a server may think as long as the headers timeout allows,
   * and the watchdog then only guards our bytes and bodies of known length.
   * With it off, use `guard.expect()`/`guard.settle()` where bytes are owed.
   * @defaultValue true
   */
  expectResponseAfterWrite?: boolean;
  /**
   * Whole connect phase (DNS, every address tried, TLS handshake). A silent
   * SYN drop otherwise hangs for ≈ 127 s (FM-05).
   * @defaultValue 3_000
   */
  connectTimeoutMs?: number;
  /**
   * Happy Eyeballs (RFC 8305): start the next address when the previous has
   * not connected after this long; attempts then race.
   * @defaultValue 250
   */
  attemptDelayMs?: number;
  /**
   * Use setsockopt through the optional `koffi` binding when it loads.
   * `BREAKWATER_NATIVE=0` in the environment also turns it off.
   * @defaultValue true
   */
  native?: boolean;
  /** Injected for tests. @defaultValue the monotonic clock */
  clock?: Clock;
}

export type ResolvedSocketOptions = Required<SocketOptions>;

export const SOCKET_DEFAULTS = Object.freeze({
  noDelay: true,
  keepAliveIdleMs: 5_000,
  keepAliveIntervalMs: 2_000,
  keepAliveCount: 5,
  userTimeoutMs: 10_000,
  stallTimeoutMs: 10_000,
  expectResponseAfterWrite: true,
  connectTimeoutMs: 3_000,
  attemptDelayMs: 250,
  native: true,
  clock: monotonicClock,
}) satisfies ResolvedSocketOptions;

export const SOCKET_OPTION_RULES = {
  noDelay: validateBoolean,
  // The kernel takes keepalive values in whole seconds (1 … 32767).
  keepAliveIdleMs: (v: unknown, k: string) => keepAliveSeconds(v, k, true),
  keepAliveIntervalMs: (v: unknown, k: string) => keepAliveSeconds(v, k, false),
  keepAliveCount: intRule(1, 127),
  userTimeoutMs: msRule(),
  stallTimeoutMs: msRule(),
  expectResponseAfterWrite: validateBoolean,
  connectTimeoutMs: msRule(1, 600_000),
  attemptDelayMs: msRule(10, 10_000),
  native: validateBoolean,
  clock: validateClock,
} satisfies Rules<ResolvedSocketOptions>;

function keepAliveSeconds(v: unknown, k: string, allowZero: boolean): number {
  if (allowZero && v === 0) return 0;
  return validateNumber(v, k, { min: 1_000, max: 32_767_000, integer: true });
}

export const SOCKET_OPTION_KEYS = Object.keys(SOCKET_DEFAULTS) as (keyof ResolvedSocketOptions)[];

/** Validates and fills in defaults; throws BW_ERR_INVALID_OPTION naming the key. */
export function resolveSocketOptions(options?: SocketOptions, where = 'socket options'): ResolvedSocketOptions {
  return resolveOptions<ResolvedSocketOptions>(options, where, SOCKET_DEFAULTS, SOCKET_OPTION_RULES);
}
