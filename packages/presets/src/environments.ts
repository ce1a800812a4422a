import { POOL_DEFAULTS } from '@breakwater/pool';
import type { EnvName, PresetHttp, PresetPool, PresetSocket } from './defaults.js';

/**
 * How an environment departs from the packages' defaults. Every departure
 * says why in `why`; a section not named here is the package's defaults.
 */
export interface EnvironmentSpec {
  pool: Partial<PresetPool>;
  socket: Partial<PresetSocket>;
  http: Partial<Pick<PresetHttp, 'attempts'>>;
  why: Readonly<Record<string, string>>;
}

export const ENVIRONMENTS: Readonly<Record<EnvName, Readonly<EnvironmentSpec>>> = Object.freeze({
  // The packages' defaults are production defaults: nothing to change.
  production: Object.freeze({ pool: {}, socket: {}, http: {}, why: {} }),
  development: Object.freeze({
    pool: { leakWarningMs: POOL_DEFAULTS.acquireTimeoutMs },
    socket: {},
    http: {},
    why: {
      'pool.leakWarningMs':
        'a borrow held longer than a caller would wait for one (the acquire timeout) is reported with its stack; the ≈ 2 µs per acquire is fine outside production',
    },
  }),
  serverless: Object.freeze({
    pool: { max: 2, minIdle: 0, idleTimeoutMs: 10_000, validateAfterIdleMs: 0 },
    socket: {},
    http: { attempts: 2 },
    why: {
      'pool.max':
        'an instance serves one invocation at a time: a second connection covers one parallel call, more only multiply connections across thousands of instances',
      'pool.minIdle': 'no warm-up: a cold start must not wait for connections it may never use',
      'pool.idleTimeoutMs': 'a frozen instance cannot run its timers while NATs and load balancers keep counting: keep idle connections briefly',
      'pool.validateAfterIdleMs': 'after a thaw any connection may be stale: probe on every borrow',
      'http.attempts': 'the function timeout is short and the platform retries failed invocations: one retry here, not two',
    },
  }),
});
