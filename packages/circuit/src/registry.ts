import { validateString } from '@breakwater/core';
import { type Action, CircuitBreaker } from './CircuitBreaker.js';
import type { CircuitOptions } from './defaults.js';

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

/** Breakers keyed by upstream (`host:port`, a service name). */
export class CircuitRegistry {
  readonly #breakers = new Map<string, CircuitBreaker<never[], unknown>>();

  /**
   * The breaker of `key`, created with `fn` and `options` on first use; later
   * calls return it as it is. Use `run(fn)` for calls other than `fn`.
   */
  circuitFor<A extends unknown[] = unknown[], R = unknown>(key: string, fn?: Action<A, R>, options?: Omit<CircuitOptions, 'key'>): CircuitBreaker<A, R> {
    validateString(key, 'key');
    let breaker = this.#breakers.get(key) as CircuitBreaker<A, R> | undefined;
    if (breaker === undefined) {
      breaker = new CircuitBreaker<A, R>(fn, { ...options, key });
      this.#breakers.set(key, breaker as unknown as CircuitBreaker<never[], unknown>);
    }
    return breaker;
  }

  get(key: string): CircuitBreaker | undefined {
    return this.#breakers.get(key) as CircuitBreaker | undefined;
  }

  keys(): string[] {
    return [...this.#breakers.keys()];
  }

  /** Shuts the breaker of `key` down and forgets it. */
  delete(key: string): boolean {
    this.#breakers.get(key)?.shutdown();
    return this.#breakers.delete(key);
  }

  shutdownAll(): void {
    for (const key of this.keys()) this.delete(key);
  }
}

const defaultRegistry = new CircuitRegistry();

/**
 * The shared breaker for an upstream in the default registry.
 * @example
 * const users = circuitFor('users.internal:443');
 * const user = await users.run(({ signal }) => fetchUser(id, { signal }));
 */
export function circuitFor<A extends unknown[] = unknown[], R = unknown>(
  key: string,
  fn?: Action<A, R>,
  options?: Omit<CircuitOptions, 'key'>,
): CircuitBreaker<A, R> {
  return defaultRegistry.circuitFor(key, fn, options);
}
