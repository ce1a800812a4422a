import { BreakwaterError, validateString } from '@breakwater/core';

// node:sqlite exists unflagged from Node 22.13 (with an ExperimentalWarning on 22) and in 24.
// Loaded on first use, so clients without an outbox never see the warning.
type Sqlite = typeof import('node:sqlite');
type Database = InstanceType<Sqlite['DatabaseSync']>;
type Statement = ReturnType<Database['prepare']>;

/** What a client finds in its outbox at start: the previous session and its unsettled messages, in id order. */
export interface OutboxContents {
  session: Buffer | undefined;
  messages: { id: number; payload: Buffer }[];
}

/**
 * A durable outbox in SQLite (`node:sqlite`, synchronous): every admitted
 * message is written before it goes to the socket and deleted once it is
 * settled, so a crashed client resends the rest on restart — under the same
 * session and ids, so the server's dedup window still recognises the ones
 * it handled before the crash (within its horizon).
 *
 * WAL with `synchronous = NORMAL`: a process crash loses nothing; a power
 * loss may lose the last transactions (use `FULL` through `pragma` if that
 * matters more than throughput).
 */
export class SqliteOutbox {
  readonly path: string;
  readonly #db: Database;
  readonly #put: Statement;
  readonly #delete: Statement;

  constructor(path: string) {
    this.path = validateString(path, 'outboxPath');
    const sqlite = loadSqlite();
    try {
      this.#db = new sqlite.DatabaseSync(path);
      this.#db.exec(`
        PRAGMA journal_mode = WAL;
        PRAGMA synchronous = NORMAL;
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, payload BLOB NOT NULL);
      `);
    } catch (error) {
      throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`outboxPath\` to be a writable SQLite file, got ${JSON.stringify(path)}`, {
        cause: error,
        details: { key: 'outboxPath' },
      });
    }
    this.#put = this.#db.prepare('INSERT OR REPLACE INTO outbox (id, payload) VALUES (?, ?)');
    this.#delete = this.#db.prepare('DELETE FROM outbox WHERE id = ?');
  }

  load(): OutboxContents {
    const row = this.#db.prepare("SELECT value FROM meta WHERE key = 'session'").get() as { value: Uint8Array } | undefined;
    const rows = this.#db.prepare('SELECT id, payload FROM outbox ORDER BY id').all() as { id: number; payload: Uint8Array }[];
    return {
      session: row === undefined ? undefined : Buffer.from(row.value),
      messages: rows.map((r) => ({ id: Number(r.id), payload: Buffer.from(r.payload) })),
    };
  }

  saveSession(session: Buffer): void {
    this.#db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('session', ?)").run(session);
  }

  put(id: number, payload: Buffer): void {
    this.#put.run(id, payload);
  }

  delete(id: number): void {
    this.#delete.run(id);
  }

  /** Messages still held. */
  size(): number {
    return Number((this.#db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n);
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}

function loadSqlite(): Sqlite {
  let sqlite: Sqlite | undefined;
  let failure: unknown;
  try {
    sqlite = process.getBuiltinModule('node:sqlite') as Sqlite | undefined;
  } catch (error) {
    failure = error;
  }
  if (sqlite === undefined) {
    throw new BreakwaterError('BW_ERR_UNSUPPORTED', `node:sqlite is not available in Node ${process.version}: the durable outbox needs Node 22.13 or later`, {
      cause: failure,
    });
  }
  return sqlite;
}
