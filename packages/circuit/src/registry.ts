import {
  BreakwaterError,
  type Clock,
  type Closeable,
  describe,
  IdleMap,
  intRule,
  monotonicClock,
  msRule,
  resolveOptions,
  validateClock,
  validateString,
} from '@breakwater/core';
import { type Action, CircuitBreaker } from './CircuitBreaker.js';
import { type CircuitOptions, resolveCircuitOptions } from './defaults.js';

/**
 * A breaker guarding `fn`. Prefer {@link circuitFor} for an upstream that
 * several call sites share: one breaker per upstream sees all its failures.
 * @example
 * const getUser = circuit(({ signal }, id: string) => users.get(id, { signal }), { key: 'users.internal:443' });
 * await getUser.fire('42');
 */
export function circuit<A extends unknown[], R>(fn: Action<A, R>, options?: CircuitOptions): CircuitBreaker<A, R> {
  return new CircuitBreaker(fn, options);
}

export interface CircuitRegistryOptions {
  /**
   * Most breakers kept. Closed ones go first (idle ones at once, then the least recently created);
   * an open or half-open breaker is never dropped: forgetting it would reopen the gate to a failing
   * upstream early, so a registry may hold more while that many upstreams are failing at once.
   * @defaultValue 10_000
   */
  maxCircuits?: number;
  /** A closed breaker without calls for this long is dropped at a later insertion (no timer). @defaultValue 60_000 */
  idleMs?: number;
  /** @defaultValue the monotonic clock */
  clock?: Clock;
}

/** Frozen circuitFor() options objects that passed their check once. */
const checked = new WeakSet<object>();

const REGISTRY_DEFAULTS = { maxCircuits: 10_000, idleMs: 60_000, clock: monotonicClock as Clock };

/** Breakers keyed by upstream (`host:port`, a service name), bounded in number (see {@link CircuitRegistryOptions}). */
export class CircuitRegistry implements Closeable {
  readonly #breakers: IdleMap<string, CircuitBreaker<never[], unknown>>;

  constructor(options?: CircuitRegistryOptions) {
    const { maxCircuits, idleMs, clock } = resolveOptions(options, 'CircuitRegistry', REGISTRY_DEFAULTS, {
      maxCircuits: intRule(1, Number.MAX_SAFE_INTEGER),
      idleMs: msRule(),
      clock: validateClock,
    });
    this.#breakers = new IdleMap({
      maxEntries: maxCircuits,
      idleMs,
      clock,
      // Only closed ones: a fresh breaker would let a failing upstream's traffic through at once.
      canEvict: (b) => b.state === 'closed',
      onEvict: (b) => void b.close(),
    });
  }

  /** How many breakers it holds. */
  get size(): number {
    return this.#breakers.size;
  }

  /**
   * The breaker of `key`, created with `options` (and `options.fn`) on first use; later
   * calls return it as it is (their options are still checked, their `fn` is not used).
   * Use `run(fn)` for calls other than `fn`. A breaker closed with `close()` is
   * replaced by a new one on the next call.
   * @example registry.circuitFor('users.internal:443', { attemptTimeoutMs: 1_000 })
   */
  circuitFor<A extends unknown[] = unknown[], R = unknown>(key: string, options?: CircuitForOptions<A, R>): CircuitBreaker<A, R>;
  /** @deprecated Pass `fn` inside the options: `circuitFor(key, { fn, ...options })`; kept for one release. */
  circuitFor<A extends unknown[] = unknown[], R = unknown>(
    key: string,
    fn: Action<A, R> | undefined,
    options?: Omit<CircuitOptions, 'key'>,
  ): CircuitBreaker<A, R>;
  circuitFor<A extends unknown[] = unknown[], R = unknown>(
    key: string,
    fnOrOptions?: Action<A, R> | CircuitForOptions<A, R>,
    legacy?: Omit<CircuitOptions, 'key'>,
  ): CircuitBreaker<A, R> {
    validateString(key, 'key');
    const known = legacy === undefined && typeof fnOrOptions === 'object' && checked.has(fnOrOptions);
    let breaker = this.#breakers.get(key) as CircuitBreaker<A, R> | undefined;
    // A frozen options object checked before cannot have changed: not checked again (a layer's, per request).
    if (known && breaker !== undefined && !breaker.isShutDown) return breaker;
    const { fn, ...options } = splitFn(fnOrOptions, legacy);
    if (breaker !== undefined && !breaker.isShutDown) {
      resolveCircuitOptions({ ...options, key }, 'circuitFor()');
    } else {
      breaker = new CircuitBreaker<A, R>(fn, { ...options, key });
      this.#breakers.set(key, breaker as unknown as CircuitBreaker<never[], unknown>);
    }
    if (legacy === undefined && typeof fnOrOptions === 'object' && Object.isFrozen(fnOrOptions)) checked.add(fnOrOptions);
    return breaker;
  }

  get(key: string): CircuitBreaker | undefined {
    return this.#breakers.peek(key) as CircuitBreaker | undefined;
  }

  keys(): string[] {
    return [...this.#breakers.keys()];
  }

  /** Closes the breaker of `key` and forgets it. */
  delete(key: string): boolean {
    void this.#breakers.peek(key)?.close();
    return this.#breakers.delete(key);
  }

  /** Closes every breaker and forgets it. Idempotent; the registry may be used again afterwards. */
  close(): Promise<void> {
    for (const key of this.keys()) this.delete(key);
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** @deprecated Renamed `close()`; kept for one release. */
  shutdownAll(): void {
    void this.close();
  }
}

/** `circuitFor()`'s options: a breaker's options and, optionally, the function it guards. */
export interface CircuitForOptions<A extends unknown[] = unknown[], R = unknown> extends Omit<CircuitOptions, 'key'> {
  /** The function `fire()` calls; without it, use `run(fn)`. */
  fn?: Action<A, R>;
}

function splitFn<A extends unknown[], R>(
  fnOrOptions: Action<A, R> | CircuitForOptions<A, R> | undefined,
  legacy: Omit<CircuitOptions, 'key'> | undefined,
): CircuitForOptions<A, R> {
  // The old form: circuitFor(key, fn, options) or circuitFor(key, undefined, options).
  if (typeof fnOrOptions === 'function') return { ...legacy, fn: fnOrOptions };
  if (fnOrOptions === undefined) return { ...legacy };
  if (typeof fnOrOptions !== 'object' || fnOrOptions === null || Array.isArray(fnOrOptions)) {
    throw new BreakwaterError(
      'BW_ERR_INVALID_OPTION',
      `Expected circuitFor()'s second argument to be an options object or a function, got ${describe(fnOrOptions)}`,
      {
        details: { key: 'options' },
        hint: 'circuitFor(key, { fn, ...options })',
      },
    );
  }
  if (legacy !== undefined) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'circuitFor() got options twice: an options object and a third argument', {
      details: { key: 'options' },
      hint: 'Put everything in the second argument: circuitFor(key, { fn, ...options }).',
    });
  }
  return fnOrOptions;
}

const defaultRegistry = new CircuitRegistry();

/**
 * The shared breaker for an upstream in the default registry.
 * @example
 * const users = circuitFor('users.internal:443', { attemptTimeoutMs: 1_000 });
 * const user = await users.run(({ signal }) => fetchUser(id, { signal }));
 */
export function circuitFor<A extends unknown[] = unknown[], R = unknown>(key: string, options?: CircuitForOptions<A, R>): CircuitBreaker<A, R>;
/** @deprecated Pass `fn` inside the options: `circuitFor(key, { fn, ...options })`; kept for one release. */
export function circuitFor<A extends unknown[] = unknown[], R = unknown>(
  key: string,
  fn: Action<A, R> | undefined,
  options?: Omit<CircuitOptions, 'key'>,
): CircuitBreaker<A, R>;
export function circuitFor<A extends unknown[] = unknown[], R = unknown>(
  key: string,
  fnOrOptions?: Action<A, R> | CircuitForOptions<A, R>,
  legacy?: Omit<CircuitOptions, 'key'>,
): CircuitBreaker<A, R> {
  return defaultRegistry.circuitFor(key, splitFn(fnOrOptions, legacy));
}
