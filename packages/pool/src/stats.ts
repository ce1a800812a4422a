import type net from 'node:net';
import type { BreakwaterError } from '@breakwater/core';
import type { EvictReason } from './internal/Entry.js';

export type { EvictReason };

/** A snapshot of the pool. `size === idle + borrowed + validating + connecting` at rest. */
export interface PoolStats {
  /** Connections open or opening (generic-pool's `size`). */
  size: number;
  /** Open and waiting in the pool. */
  idle: number;
  /** Lent to callers. */
  borrowed: number;
  /** Being probed before they are lent. */
  validating: number;
  /** Connects in progress or backing off. */
  connecting: number;
  /** Callers waiting in `acquire()`. */
  waiting: number;
  max: number;
  /** False while passive health has marked the endpoint unhealthy (FM-08). */
  healthy: boolean;
  consecutiveFailures: number;
  /** Connections opened so far. */
  created: number;
  /** Connections closed so far, by reason. */
  evicted: Readonly<Record<EvictReason, number>>;
  connectAttempts: number;
  connectFailures: number;
  acquireTimeouts: number;
  leaked: number;
  draining: boolean;
}

/**
 * Events, also published on `diagnostics_channel` as `breakwater:pool:<event>`
 * with `pool` added to the message.
 */
export interface PoolEvents {
  created: [{ conn: net.Socket; id: number; elapsedMs: number }];
  evicted: [{ conn: net.Socket; id: number; reason: EvictReason }];
  connectFailed: [{ error: BreakwaterError; attempt: number; retryInMs: number }];
  acquireTimedOut: [{ waitedMs: number; error: BreakwaterError }];
  leaked: [{ conn: net.Socket; id: number; borrowedMs: number; stack: string }];
  markedUnhealthy: [{ consecutiveFailures: number; error: unknown }];
  recovered: [Record<string, never>];
  drained: [{ destroyedBorrowed: number }];
}

const REASONS: readonly EvictReason[] = ['idle', 'lifetime', 'closed', 'invalid', 'probeFailed', 'failed', 'unhealthy', 'destroyed', 'drained'];

/** The pool's running totals. */
export class PoolStatsCounter {
  created = 0;
  connectFailures = 0;
  acquireTimeouts = 0;
  leaked = 0;
  readonly #evicted = Object.fromEntries(REASONS.map((r) => [r, 0])) as Record<EvictReason, number>;

  evicted(reason: EvictReason): void {
    this.#evicted[reason]++;
  }

  snapshot(live: Omit<PoolStats, 'created' | 'evicted' | 'connectFailures' | 'acquireTimeouts' | 'leaked'>): PoolStats {
    return {
      ...live,
      created: this.created,
      evicted: Object.freeze({ ...this.#evicted }),
      connectFailures: this.connectFailures,
      acquireTimeouts: this.acquireTimeouts,
      leaked: this.leaked,
    };
  }
}
