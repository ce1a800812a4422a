/**
 * Bare generic-pool, for tests that show what it does without Breakwater's
 * guards. Resolved from this package, which is the one that depends on it.
 */
import genericPool from 'generic-pool';

export type { Factory, Options, Pool } from 'generic-pool';
export const createGenericPool = genericPool.createPool;
export const GENERIC_POOL_PATH = new URL(import.meta.resolve('generic-pool')).pathname;
