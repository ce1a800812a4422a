import {
  BreakwaterError,
  type Clock,
  intRule,
  monotonicClock,
  msRule,
  resolveOptions,
  type TimerHandle,
  validateClock,
  validateOptionsObject,
  validateString,
} from '@breakwater/core';
import type { DedupKey, DedupStore, DedupTransaction } from './DedupStore.js';
import { ACK_SERVER_DEFAULTS } from './defaults.js';

/** What the store needs from a `pg` client: `pg.PoolClient` fits (no import of `pg` here). */
export interface PgClientLike {
  query(text: string, values?: unknown[]): Promise<{ rowCount: number | null; command?: string }>;
  release(error?: Error | boolean): void;
  /** `pg.Client` is an EventEmitter: its 'error' (the server ended the session) is listened to while the store holds it. */
  on?(event: 'error', listener: (error: Error) => void): unknown;
  removeListener?(event: 'error', listener: (error: Error) => void): unknown;
}

/** What the store needs from a `pg` pool: `pg.Pool` fits. */
export interface PgPoolLike<C extends PgClientLike = PgClientLike> {
  connect(): Promise<C>;
}

/** Tunables of {@link createPgDedupStore}; every one is in the README defaults table. */
export interface PgDedupStoreTunables {
  /** Table of `(session, id, handled_at)`; `schema.table` allowed. Create it with {@link PgDedupStore.migrate}. @defaultValue 'breakwater_ack_dedup' */
  table?: string;
  /**
   * A record is kept at least this long; clients' `sendTimeoutMs` must stay
   * below it (a retransmit after it may run the handler again).
   * @defaultValue 300_000 (the server's `dedupHorizonMs`) @example 3_600_000
   */
  dedupHorizonMs?: number;
  /** How often the retention job runs (one unref'd timer per store). @defaultValue 60_000 */
  pruneIntervalMs?: number;
  /** Rows deleted per statement by the retention job; at most 10 statements per run. @defaultValue 5_000 */
  pruneBatchRows?: number;
  /**
   * `idle_in_transaction_session_timeout` of each message's transaction: a
   * server frozen (SIGSTOP) mid-handler has its claim rolled back by
   * PostgreSQL after this long, so another server can take the retransmit.
   * @defaultValue 30_000 @example 5_000
   */
  txIdleTimeoutMs?: number;
  /** `lock_timeout` while claiming: how long a retransmit waits for another server's open claim on the same id before the connection is dropped (and the client retries). @defaultValue 10_000 */
  lockTimeoutMs?: number;
  /** Injected for tests. @defaultValue the monotonic clock */
  clock?: Clock;
}

export interface PgDedupStoreOptions<C extends PgClientLike = PgClientLike> extends PgDedupStoreTunables {
  /** Your `pg.Pool`: each message holds one client from claim to commit. */
  pool: PgPoolLike<C>;
}

export const PG_DEDUP_STORE_DEFAULTS = Object.freeze({
  table: 'breakwater_ack_dedup',
  dedupHorizonMs: ACK_SERVER_DEFAULTS.dedupHorizonMs,
  pruneIntervalMs: 60_000,
  pruneBatchRows: 5_000,
  txIdleTimeoutMs: 30_000,
  lockTimeoutMs: 10_000,
  clock: monotonicClock,
}) satisfies Required<PgDedupStoreTunables>;

const MAX_PRUNE_STATEMENTS = 10;
/** Session keys the ack server makes: hex, or certificate fingerprint hex + `/` + hex. Anything else is sent as a parameter. */
const SAFE_SESSION = /^[0-9a-f/]{1,200}$/;

/**
 * The transactional inbox in PostgreSQL: one row per handled `(session, id)`,
 * written in the transaction the handler writes its own effects with.
 */
export class PgDedupStore<C extends PgClientLike = PgClientLike> implements DedupStore<C> {
  readonly dedupHorizonMs: number;
  readonly #o: Required<PgDedupStoreTunables>;
  readonly #pool: PgPoolLike<C>;
  readonly #begin: string;
  readonly #claim: string;
  #timer: TimerHandle | undefined;
  #pruning: Promise<number> | undefined;
  #closed = false;

  /** @internal Use {@link createPgDedupStore}. */
  constructor(options: PgDedupStoreOptions<C>) {
    const given = validateOptionsObject<PgDedupStoreOptions<C>>(options, 'createPgDedupStore()', [...Object.keys(PG_DEDUP_STORE_DEFAULTS), 'pool']);
    const pool = given.pool as PgPoolLike<C> | undefined;
    if (typeof pool !== 'object' || pool === null || typeof pool.connect !== 'function') {
      throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `pool` to be a pg.Pool (an object with connect())', { details: { key: 'pool' } });
    }
    const tunables: Record<string, unknown> = {};
    for (const k of Object.keys(PG_DEDUP_STORE_DEFAULTS)) tunables[k] = (given as Record<string, unknown>)[k];
    this.#o = resolveOptions<Required<PgDedupStoreTunables>>(tunables, 'createPgDedupStore()', PG_DEDUP_STORE_DEFAULTS, {
      table: (v, k) => {
        const t = validateString(v, k);
        if (!/^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$/.test(t)) {
          throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`${k}\` to be a lower-case SQL identifier (schema.table allowed), got ${t}`, {
            details: { key: k },
          });
        }
        return t;
      },
      dedupHorizonMs: msRule(1),
      pruneIntervalMs: msRule(1),
      pruneBatchRows: intRule(1, 1_000_000),
      txIdleTimeoutMs: msRule(1),
      lockTimeoutMs: msRule(1),
      clock: validateClock,
    });
    this.#pool = pool;
    this.dedupHorizonMs = this.#o.dedupHorizonMs;
    // Integers checked above: inlined, as SET takes no parameters.
    this.#begin = `BEGIN; SET LOCAL idle_in_transaction_session_timeout = ${this.#o.txIdleTimeoutMs}; SET LOCAL lock_timeout = ${this.#o.lockTimeoutMs}`;
    this.#claim = `INSERT INTO ${this.#o.table} (session, id) VALUES ($1, $2) ON CONFLICT DO NOTHING`;
    this.#schedule();
  }

  #claimInline(key: DedupKey): string {
    return `INSERT INTO ${this.#o.table} (session, id) VALUES ('${key.session}', ${key.id}) ON CONFLICT DO NOTHING`;
  }

  get table(): string {
    return this.#o.table;
  }

  /** Creates the table and its index if missing (idempotent; safe from several servers at once). */
  async migrate(): Promise<void> {
    const t = this.#o.table;
    const index = `${t.replace('.', '_')}_handled_at_idx`.slice(-63);
    const client = await this.#pool.connect();
    try {
      // One server at a time: concurrent CREATE ... IF NOT EXISTS can still collide in the catalog.
      await client.query(
        `BEGIN; SELECT pg_advisory_xact_lock(hashtext('${t}'));` +
          ` CREATE TABLE IF NOT EXISTS ${t} (session text NOT NULL, id bigint NOT NULL, handled_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (session, id));` +
          ` CREATE INDEX IF NOT EXISTS ${index.split('.').pop()} ON ${t} (handled_at); COMMIT`,
      );
      client.release();
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
  }

  async begin(key: DedupKey): Promise<DedupTransaction<C> | 'done'> {
    if (this.#closed) throw new BreakwaterError('BW_ERR_CLOSED', 'the PostgreSQL dedup store is closed');
    const client = await this.#pool.connect();
    // pg.Pool stops listening to a client's 'error' while it is checked out, and pg emits one when the
    // server ends the session between statements (a restart, our own idle_in_transaction timeout) while
    // the handler awaits something else: unheard, it would kill the process. Heard, the next statement
    // or the COMMIT fails, and the message's outcome is unknown (no answer; the retransmit decides).
    let lost: Error | undefined;
    const onError = (error: Error) => {
      lost ??= error;
    };
    client.on?.('error', onError);
    const release = (error?: Error | boolean) => {
      client.removeListener?.('error', onError);
      client.release(error ?? lost);
    };
    try {
      let claimed: { rowCount: number | null };
      if (SAFE_SESSION.test(key.session) && Number.isSafeInteger(key.id)) {
        // One round trip: the server's session keys are hex (and `/`), the id an integer, so both can be
        // inlined into the simple-protocol batch; the result of a batch is one result per statement.
        const results = (await client.query(`${this.#begin}; ${this.#claimInline(key)}`)) as unknown;
        claimed = Array.isArray(results) ? (results.at(-1) as { rowCount: number | null }) : (results as { rowCount: number | null });
      } else {
        await client.query(this.#begin);
        claimed = await client.query(this.#claim, [key.session, key.id]);
      }
      if (claimed.rowCount === 0) {
        // Committed by someone (this process before a restart, or another server): answer from it.
        await client.query('ROLLBACK');
        release();
        return 'done';
      }
    } catch (error) {
      release(error instanceof Error ? error : true);
      throw error;
    }
    let ended = false;
    const end = async (sql: 'COMMIT' | 'ROLLBACK') => {
      if (ended) throw new BreakwaterError('BW_ERR_INTERNAL', `dedup transaction ended twice (${sql})`);
      ended = true;
      try {
        if (lost !== undefined) {
          throw new BreakwaterError('BW_ERR_NETWORK', `dedup transaction for ${key.session}#${key.id} lost its connection before ${sql}: ${lost.message}`, {
            cause: lost,
          });
        }
        const r = await client.query(sql);
        // COMMIT of a transaction a failed statement aborted answers ROLLBACK, without an error.
        if (sql === 'COMMIT' && r.command !== undefined && r.command !== 'COMMIT') {
          throw new BreakwaterError(
            'BW_ERR_NETWORK',
            `dedup transaction for ${key.session}#${key.id} was rolled back at COMMIT (${r.command}): a statement of the handler failed`,
          );
        }
        release();
      } catch (error) {
        release(error instanceof Error ? error : true);
        throw error;
      }
    };
    return { tx: client, commit: () => end('COMMIT'), rollback: () => end('ROLLBACK') };
  }

  /**
   * Deletes records older than `dedupHorizonMs` (PostgreSQL's clock, so
   * servers' clocks do not matter), at most `pruneBatchRows` × 10 per call.
   * Runs every `pruneIntervalMs` on its own; resolves with the rows deleted.
   */
  prune(): Promise<number> {
    this.#pruning ??= (async () => {
      let deleted = 0;
      const client = await this.#pool.connect();
      try {
        for (let i = 0; i < MAX_PRUNE_STATEMENTS; i++) {
          const r = await client.query(
            `DELETE FROM ${this.#o.table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${this.#o.table} WHERE handled_at < now() - make_interval(secs => $1::double precision / 1000) LIMIT $2))`,
            [this.#o.dedupHorizonMs, this.#o.pruneBatchRows],
          );
          deleted += r.rowCount ?? 0;
          if ((r.rowCount ?? 0) < this.#o.pruneBatchRows) break;
        }
        client.release();
      } catch (error) {
        client.release(error instanceof Error ? error : true);
        throw error;
      }
      return deleted;
    })().finally(() => {
      this.#pruning = undefined;
    });
    return this.#pruning;
  }

  /** Stops the retention job (the pool is yours: end it yourself). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#pruning?.catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #schedule(): void {
    // The clock's timers are unref'd: the job never keeps a process alive.
    this.#timer = this.#o.clock.setTimeout(() => {
      if (this.#closed) return;
      this.prune().then(
        () => this.#schedule(),
        () => this.#schedule(), // a database outage skips a run; records only live longer
      );
    }, this.#o.pruneIntervalMs);
  }
}

/**
 * A {@link DedupStore} in PostgreSQL, for a fleet of ack servers sharing one
 * database: exactly-once **effects** across servers, restarts and failovers,
 * when the handler writes through `context.tx` (its writes and the dedup
 * record commit together, or neither does). Writes elsewhere (another
 * database, an HTTP call) are not covered: make them idempotent.
 *
 * Call `migrate()` once (or create the table yourself), `close()` after the
 * servers that use it. Keep clients' `sendTimeoutMs` below `dedupHorizonMs`.
 *
 * @example
 * import pg from 'pg';
 * import { createAckServer } from '@breakwater/ack';
 * import { createPgDedupStore } from '@breakwater/ack/pg';
 * const pool = new pg.Pool({ connectionString, max: 32 });
 * pool.on('error', () => {}); // idle clients whose server went away (pg drops them)
 * const dedupStore = createPgDedupStore({ pool });
 * await dedupStore.migrate();
 * const server = createAckServer({
 *   dedupStore,
 *   handler: async (payload, { tx }) => {
 *     await tx.query('INSERT INTO orders (body) VALUES ($1)', [payload.toString('utf8')]);
 *   },
 * });
 */
export function createPgDedupStore<C extends PgClientLike>(options: PgDedupStoreOptions<C>): PgDedupStore<C> {
  return new PgDedupStore<C>(options);
}
