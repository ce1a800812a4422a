import {
  BreakwaterError,
  type Clock,
  describe,
  monotonicClock,
  validateClock,
  validateNumber,
  validateOptionsObject,
  validatePort,
  validateString,
} from '@breakwater/core';
import { MAX_SEED, randomSeed } from '../internal/rng.js';
import type { FaultSpec } from './faults.js';

export interface FaultProxyTarget {
  /** @defaultValue '127.0.0.1' */
  host?: string;
  port: number;
}

export interface FaultProxyListen {
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** 0 picks a free port; read it back from `proxy.port`. @defaultValue 0 */
  port?: number;
}

export interface FaultProxyOptions {
  /** Where accepted connections are forwarded. Required. */
  target: FaultProxyTarget;
  /** Where the proxy listens. @defaultValue { host: '127.0.0.1', port: 0 } */
  listen?: FaultProxyListen;
  /**
   * Seed of every random decision (probabilities, jitter, slice sizes); print
   * `proxy.seed` in a failing test and pass it back to replay the run.
   * An unsigned 32-bit integer.
   * @defaultValue a random seed
   */
  seed?: number;
  /** Faults active from the first connection on. @defaultValue [] */
  faults?: readonly FaultSpec[];
  /**
   * Bytes the proxy holds per connection and direction (data waiting for a
   * delay, or for a slow reader) before it stops reading from the sender, so
   * TCP flow control pushes back on it instead of the proxy's memory growing.
   * @defaultValue 1_048_576 (1 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * Time source of every delay and timer (a wrapper around the real clock in
   * tests, to count timers; the sockets are real, so a fake clock would stall).
   * @defaultValue the monotonic clock
   */
  clock?: Clock;
}

export const FAULT_PROXY_DEFAULTS = Object.freeze({
  targetHost: '127.0.0.1',
  listenHost: '127.0.0.1',
  listenPort: 0,
  maxBufferedBytes: 1_048_576,
  clock: monotonicClock,
});

export interface ResolvedFaultProxyOptions {
  readonly target: { readonly host: string; readonly port: number };
  readonly listen: { readonly host: string; readonly port: number };
  readonly seed: number;
  readonly faults: readonly unknown[];
  readonly maxBufferedBytes: number;
  readonly clock: Clock;
}

const OPTION_KEYS = ['target', 'listen', 'seed', 'faults', 'maxBufferedBytes', 'clock'] as const;

/**
 * Validates createFaultProxy() options (fault specs are validated by the proxy
 * itself, with the same checks as addFault()).
 *
 * @throws BreakwaterError `BW_ERR_INVALID_OPTION` naming the key and its legal range.
 */
export function resolveFaultProxyOptions(options: unknown): ResolvedFaultProxyOptions {
  if (options === undefined) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `target` to be { host, port } of the server to forward to, got undefined', {
      details: { key: 'target' },
    });
  }
  const o = validateOptionsObject<FaultProxyOptions>(options, 'createFaultProxy() options', OPTION_KEYS);
  if (typeof o.target !== 'object' || o.target === null) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`target\` to be { host, port } of the server to forward to, got ${describe(o.target)}`, {
      details: { key: 'target' },
    });
  }
  const target = validateOptionsObject<FaultProxyTarget>(o.target, '`target`', ['host', 'port']);
  const listen = validateOptionsObject<FaultProxyListen>(o.listen, '`listen`', ['host', 'port']);
  if (o.faults !== undefined && !Array.isArray(o.faults)) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`faults\` to be an array of fault specs, got ${describe(o.faults)}`, {
      details: { key: 'faults' },
    });
  }
  return {
    target: {
      host: validateString(target.host ?? FAULT_PROXY_DEFAULTS.targetHost, 'target.host'),
      port: validateNumber(target.port, 'target.port', { min: 1, max: 65_535, integer: true }),
    },
    listen: {
      host: validateString(listen.host ?? FAULT_PROXY_DEFAULTS.listenHost, 'listen.host'),
      port: validatePort(listen.port ?? FAULT_PROXY_DEFAULTS.listenPort, 'listen.port'),
    },
    seed: o.seed === undefined ? randomSeed() : validateNumber(o.seed, 'seed', { min: 0, max: MAX_SEED, integer: true }),
    faults: o.faults ?? [],
    maxBufferedBytes: validateNumber(o.maxBufferedBytes ?? FAULT_PROXY_DEFAULTS.maxBufferedBytes, 'maxBufferedBytes', { min: 1, integer: true }),
    clock: validateClock(o.clock ?? FAULT_PROXY_DEFAULTS.clock, 'clock'),
  };
}
