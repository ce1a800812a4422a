import type net from 'node:net';
import type { ResolvedPoolOptions } from '../defaults.js';
import type { Entry } from './Entry.js';
import type { Inventory } from './Inventory.js';
import { runProbe } from './open.js';

export interface BorrowCheckHooks {
  /** Aborted by close(): probes in flight stop. */
  signal: AbortSignal;
  closing(): boolean;
  /** Marks the entry lent (to the borrower whose stack is `stack`) and returns its socket. */
  lend(entry: Entry, now: number, stack: { stack?: string } | undefined): net.Socket;
  /** A probe finished (close() waits for them). */
  settled(): void;
}

/**
 * What a connection must pass before it is lent: the free checks (FIN or RST
 * pending, unread bytes, lifetime, idle time, health generation) every time,
 * and the caller's probe after `validateAfterIdleMs` of idleness. A failure
 * discards the connection; the caller never sees it.
 */
export class BorrowCheck {
  /** Probes in flight. */
  validating = 0;
  readonly #o: ResolvedPoolOptions;
  readonly #inv: Inventory;
  readonly #h: BorrowCheckHooks;

  constructor(o: ResolvedPoolOptions, inv: Inventory, hooks: BorrowCheckHooks) {
    this.#o = o;
    this.#inv = inv;
    this.#h = hooks;
  }

  /** Whether `entry` can be lent at `now` without a probe (the fast paths ask this). */
  passesFree(entry: Entry, now: number, startedAt: number): boolean {
    return !this.#h.closing() && this.#inv.staleReason(entry, now) === undefined && !this.needsProbe(entry, now, startedAt);
  }

  /**
   * The free checks, then the probe when due. Never throws or rejects:
   * undefined means "discarded, try another".
   */
  run(entry: Entry, startedAt: number, stack: { stack?: string } | undefined): net.Socket | undefined | Promise<net.Socket | undefined> {
    const now = this.#o.clock.now();
    const stale = this.#h.closing() ? 'drained' : this.#inv.staleReason(entry, now);
    if (stale !== undefined) return this.#inv.discard(entry, stale);
    if (!this.needsProbe(entry, now, startedAt)) return this.#h.lend(entry, now, stack);
    return this.#probe(entry, stack);
  }

  /**
   * A connection idle for `validateAfterIdleMs` is probed, except one opened
   * during this very acquire: its handshake just proved the path.
   */
  needsProbe(entry: Entry, now: number, startedAt: number): boolean {
    return this.#o.probe !== undefined && entry.createdAt < startedAt && now - entry.idleSince >= this.#o.validateAfterIdleMs;
  }

  async #probe(entry: Entry, stack: { stack?: string } | undefined): Promise<net.Socket | undefined> {
    this.validating++;
    const ok = await runProbe(this.#o.probe!, entry.socket, this.#o.validationTimeoutMs, this.#o.clock, this.#h.signal);
    this.validating--;
    this.#h.settled();
    if (this.#h.closing()) return this.#inv.discard(entry, 'drained');
    if (!ok) return this.#inv.discard(entry, 'probeFailed');
    if (!entry.usable()) return this.#inv.discard(entry, entry.dead ? 'closed' : 'invalid');
    return this.#h.lend(entry, this.#o.clock.now(), stack);
  }
}
