import { BreakwaterError, msRule } from '@breakwater/core';
import pg from 'pg';

// Statements that PostgreSQL refuses inside a transaction block (the
// statement_timeout prefix would put them in one), and transaction control
// itself: they run as given, with the client-side deadline only.
const NO_PREFIX =
  /^\s*(?:(?:\/\*[\s\S]*?\*\/|--[^\n]*\n)\s*)*(?:VACUUM|CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY|DROP\s+INDEX\s+CONCURRENTLY|REINDEX\b[^;]*\bCONCURRENTLY|(?:CREATE|DROP|ALTER)\s+(?:DATABASE|TABLESPACE|SUBSCRIPTION)|ALTER\s+SYSTEM|BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|PREPARE\s+TRANSACTION|DISCARD)\b/i;

/** Per-call options read from a query config object (`pool.query({ text, values, queryTimeoutMs, idempotent })`). */
export interface PgCallOptions {
  /** This statement's deadline, in ms (client-side and `statement_timeout`); 0: none. @defaultValue the pool's `queryTimeoutMs` */
  queryTimeoutMs?: number;
  /** Safe to run twice: retried after a connection-level failure even if it may have reached the server. @defaultValue false */
  idempotent?: boolean;
}

/** The statement's `queryTimeoutMs` (validated), or the pool's. */
export function callTimeoutMs(statement: unknown, fallbackMs: number): number {
  const given = typeof statement === 'object' && statement !== null ? (statement as PgCallOptions).queryTimeoutMs : undefined;
  if (given === undefined) return fallbackMs;
  return msRule()(given, 'queryTimeoutMs');
}

export function validateIdempotent(statement: unknown): void {
  const given = typeof statement === 'object' && statement !== null ? (statement as PgCallOptions).idempotent : undefined;
  if (given !== undefined && typeof given !== 'boolean') {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`idempotent\` to be true or false, got ${typeof given}`, { details: { key: 'idempotent' } });
  }
}

/** The parts of pg's `Query` (lib/query.js, 8.x) that TimedQuery overrides; @types/pg declares few of them. */
interface QueryInternals {
  text: string;
  requiresPreparation(): boolean;
  submit(connection: PgConnection): Error | null;
  handleRowDescription(msg: unknown): void;
  handleDataRow(msg: unknown): void;
  handleCommandComplete(msg: unknown, connection: unknown): void;
  handleError(err: unknown, connection: unknown): void;
}
const QueryBase = pg.Query as unknown as new (config: pg.QueryConfig) => QueryInternals;

/**
 * A pg `Query` that first sets `statement_timeout` for itself only:
 * `SELECT set_config('statement_timeout', ms, true)` is sent in the same
 * round trip, inside the same implicit transaction (before the one Sync of
 * the extended protocol, or in the same simple-query message), so the
 * setting ends with the statement. Nothing is left on the session: it works
 * behind PgBouncer in transaction mode, where consecutive statements may run
 * on different server connections. The prefix's replies are not shown.
 */
class TimedQuery extends QueryBase {
  readonly #prefix: string;
  #skipping = false;

  constructor(config: pg.QueryConfig, prefix: string) {
    super(config);
    this.#prefix = prefix;
  }

  override submit(connection: PgConnection): Error | null {
    this.#skipping = true;
    if (this.requiresPreparation()) {
      connection.stream.cork?.();
      try {
        connection.parse({ text: this.#prefix, name: '', types: [] });
        connection.bind({ portal: '', statement: '', values: [] });
        connection.execute({ portal: '', rows: 0 });
        return super.submit(connection);
      } finally {
        connection.stream.uncork?.();
      }
    }
    const text = this.text;
    this.text = `${this.#prefix};${text}`;
    try {
      return super.submit(connection);
    } finally {
      this.text = text;
    }
  }

  override handleError(err: unknown, connection: unknown): void {
    // In the simple protocol the prefix shifts the text: give the caller positions in their own text.
    const e = err as { position?: unknown } | null;
    if (!this.requiresPreparation() && typeof e?.position === 'string' && /^\d+$/.test(e.position)) {
      const position = Number(e.position) - this.#prefix.length - 1;
      if (position > 0) e.position = String(position);
    }
    super.handleError(err, connection);
  }

  override handleRowDescription(msg: unknown): void {
    if (!this.#skipping) super.handleRowDescription(msg);
  }

  override handleDataRow(msg: unknown): void {
    if (!this.#skipping) super.handleDataRow(msg);
  }

  override handleCommandComplete(msg: unknown, connection: unknown): void {
    if (this.#skipping) {
      this.#skipping = false;
      return;
    }
    super.handleCommandComplete(msg, connection);
  }
}

interface PgConnection {
  stream: { cork?: () => void; uncork?: () => void };
  parse(m: { text: string; name: string; types: unknown[] }): void;
  bind(m: { portal: string; statement: string; values: unknown[] }): void;
  execute(m: { portal: string; rows: number }): void;
}

/**
 * The pg `Query` for `args` (pg's `query(config | text, values?)` forms)
 * with a deadline of `timeoutMs`: pg's client-side `query_timeout` and, when
 * the statement may run in a transaction block, a `statement_timeout` for
 * this statement alone. Inside an explicit transaction the setting is sent
 * even for 0, so an earlier statement's limit does not carry over. With
 * `transactionPooling` a statement name is dropped: a named prepared
 * statement lives on one server connection, and PgBouncer in transaction
 * mode sends the next statement to any of them.
 */
export function makeQuery(args: readonly unknown[], timeoutMs: number, inTransaction: boolean, transactionPooling: boolean): pg.Query {
  const [first, values] = args;
  const config: pg.QueryConfig & { name?: string; query_timeout?: number } = typeof first === 'string' ? { text: first } : { ...(first as pg.QueryConfig) };
  if (Array.isArray(values)) config.values = values;
  if (transactionPooling) delete config.name;
  const text = typeof config.text === 'string' ? config.text : '';
  const prefixed = (timeoutMs > 0 || inTransaction) && text.trim() !== '' && !NO_PREFIX.test(text);
  const query = prefixed
    ? (new TimedQuery(config, `SELECT set_config('statement_timeout', '${timeoutMs}', true)`) as unknown as pg.Query)
    : new pg.Query(config);
  if (timeoutMs > 0) (query as unknown as { query_timeout: number }).query_timeout = timeoutMs;
  return query;
}
