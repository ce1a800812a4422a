import { randomBytes } from 'node:crypto';
import { BreakwaterError, validateString } from '@breakwater/core';
import type { OutboxDurability } from './defaults.js';

// node:sqlite exists unflagged from Node 22.13 (with an ExperimentalWarning on 22) and in 24.
// Loaded on first use, so clients without an outbox never see the warning.
type Sqlite = typeof import('node:sqlite');
type Database = InstanceType<Sqlite['DatabaseSync']>;
type Statement = ReturnType<Database['prepare']>;

/** `PRAGMA application_id` of an outbox file ('BWOB'): a file without it is not ours to touch. */
const APPLICATION_ID = 0x4257_4f42;
/** `PRAGMA user_version`. 1 (no application id, no `reserved`) is migrated; anything newer is refused. */
export const OUTBOX_SCHEMA_VERSION = 2;
/** Ids reserved by one durable write of the high-water mark (see {@link SqliteOutbox.put}). */
export const OUTBOX_RESERVED_IDS = 1_024;
/** Largest `maxInFlight` any client may use: a version-1 outbox sent no id at or above its lowest unsettled id + this. */
const MAX_WINDOW = 65_536;
/** SQLite primary result codes (`errcode & 0xff`). */
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_CORRUPT = 11;
const SQLITE_CANTOPEN = 14;
const SQLITE_NOTADB = 26;

/** What a client finds in its outbox at start. */
export interface OutboxContents {
  /** The previous session when messages are left to resume, else a fresh random one. */
  session: Buffer;
  /** Unsettled messages of earlier runs, in id order. */
  messages: { id: number; payload: Buffer }[];
  /** First id for new messages: above every id any earlier run could have sent under `session`. */
  nextId: number;
}

/**
 * A durable outbox in SQLite (`node:sqlite`, synchronous): every admitted
 * message is written before it goes to the socket and deleted once it is
 * settled, so a crashed client resends the rest on restart — under the same
 * session and ids, so the server's dedup window still recognises the ones it
 * handled before the crash (within its horizon).
 *
 * Ids are never reused under a session: opened with nothing left to resend,
 * the outbox starts a fresh session; otherwise new ids start above a
 * high-water mark that is reserved, {@link OUTBOX_RESERVED_IDS} at a time,
 * in a transaction synced to disk before any id it covers is used — so even
 * a power loss that rolls back the last transactions cannot make it reuse an
 * id the server has seen.
 *
 * One client per file: the file is locked (`locking_mode = EXCLUSIVE`) from
 * open to close; a second opener gets BW_ERR_OUTBOX_LOCKED.
 *
 * `durability: 'normal'` (WAL, `synchronous = NORMAL`): a process crash loses
 * nothing; a power loss may lose the last admitted messages and undo the last
 * deletes. `'fsync'` (`synchronous = FULL`): every admitted message is on disk
 * before it is sent.
 */
export class SqliteOutbox {
  readonly path: string;
  readonly durability: OutboxDurability;
  readonly #db: Database;
  #contents: OutboxContents;
  #reserved: number;
  #put!: Statement;
  #delete!: Statement;
  #setReserved!: Statement;
  /** Ids whose delete failed: retried with every later delete and at close. */
  readonly #undeleted = new Set<number>();

  constructor(path: string, options: { durability?: OutboxDurability } = {}) {
    this.path = validateString(path, 'outboxPath');
    this.durability = options.durability ?? 'normal';
    const sqlite = loadSqlite();
    try {
      this.#db = new sqlite.DatabaseSync(path);
    } catch (error) {
      throw openError(path, error);
    }
    try {
      // Locks taken are held until close: a second client on this file fails here, not later.
      this.#db.exec('PRAGMA locking_mode = EXCLUSIVE');
      // Checked before switching to WAL, which would rewrite a foreign file's header.
      const empty = this.#transaction(() => this.#check());
      this.#db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${this.#synchronous};`);
      const opened = this.#durably(() => this.#open(empty));
      this.#contents = opened.contents;
      this.#reserved = opened.reserved;
      this.#put = this.#db.prepare('INSERT INTO outbox (id, payload) VALUES (?, ?)');
      this.#delete = this.#db.prepare('DELETE FROM outbox WHERE id = ?');
      this.#setReserved = this.#db.prepare("UPDATE meta SET value = ? WHERE key = 'reserved'");
    } catch (error) {
      this.#db.close();
      throw error instanceof BreakwaterError ? error : openError(path, error);
    }
  }

  get #synchronous(): string {
    return this.durability === 'fsync' ? 'FULL' : 'NORMAL';
  }

  /** The session, the messages to resend and the first new id, as decided at open. The messages are handed over once (not kept in memory). */
  load(): OutboxContents {
    const contents = this.#contents;
    this.#contents = { ...contents, messages: [] };
    return contents;
  }

  /**
   * Records an admitted message; throws BW_ERR_OUTBOX_WRITE (and records
   * nothing) when the disk refuses. An id above the reservation moves it in
   * the same transaction, synced to disk whatever the durability.
   */
  put(id: number, payload: Buffer): void {
    try {
      if (id <= this.#reserved) {
        this.#put.run(id, payload);
        return;
      }
      const reserved = id + OUTBOX_RESERVED_IDS - 1;
      this.#durably(() => {
        this.#put.run(id, payload);
        this.#setReserved.run(reserved);
      });
      this.#reserved = reserved;
    } catch (error) {
      throw writeError(`message ${id} could not be written to the outbox ${this.path}, so it was not sent`, id, error);
    }
  }

  /** Forgets a settled message; throws BW_ERR_OUTBOX_WRITE when the disk refuses (the row stays and is retried with the next delete). */
  delete(id: number): void {
    this.#undeleted.add(id);
    try {
      if (this.#undeleted.size === 1) this.#delete.run(id);
      else
        this.#transaction(() => {
          for (const i of this.#undeleted) this.#delete.run(i);
        });
      this.#undeleted.clear();
    } catch (error) {
      throw writeError(`settled message ${id} could not be deleted from the outbox ${this.path}`, id, error);
    }
  }

  /** The SQLite settings in force, for diagnostics: `synchronous` is 1 (NORMAL) or 2 (FULL). */
  settings(): { journalMode: string; synchronous: number; lockingMode: string } {
    const get = (name: string) => Object.values(this.#db.prepare(`PRAGMA ${name}`).get() as object)[0] as string | number;
    return { journalMode: String(get('journal_mode')), synchronous: Number(get('synchronous')), lockingMode: String(get('locking_mode')) };
  }

  /** Messages still held. */
  size(): number {
    return Number((this.#db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n);
  }

  close(): void {
    if (!this.#db.isOpen) return;
    if (this.#undeleted.size > 0) {
      try {
        this.delete(this.#undeleted.values().next().value!);
      } catch {
        // Still failing: those rows are resent on the next start (answered from the dedup window within its horizon).
      }
    }
    this.#db.close();
  }

  /** Read-only: is this an empty file, or an outbox of a version this code reads? Throws BW_ERR_OUTBOX_INVALID otherwise. */
  #check(): boolean {
    const db = this.#db;
    const pragma = (name: string) => Number(Object.values(db.prepare(`PRAGMA ${name}`).get() as object)[0]);
    const appId = pragma('application_id');
    const version = pragma('user_version');
    const objects = (db.prepare("SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    if (appId === 0 && version === 0 && objects.length === 0) return true;
    if (!(this.#hasOutboxShape(objects) && ((appId === 0 && version === 0) || appId === APPLICATION_ID))) {
      throw invalid(this.path, 'it is another SQLite database (not an ack outbox)', { applicationId: appId, userVersion: version, tables: objects });
    }
    if (version > OUTBOX_SCHEMA_VERSION) {
      throw invalid(this.path, `it was written by a newer @breakwater/ack (schema ${version}, this one reads up to ${OUTBOX_SCHEMA_VERSION})`, {
        userVersion: version,
      });
    }
    return false;
  }

  /** Inside the open transaction: create the schema or migrate version 1, pick the session and the first id. */
  #open(empty: boolean): { contents: OutboxContents; reserved: number } {
    const db = this.#db;
    if (empty) {
      db.exec(`
        CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
        CREATE TABLE outbox (id INTEGER PRIMARY KEY, payload BLOB NOT NULL);
      `);
    }
    db.exec(`PRAGMA application_id = ${APPLICATION_ID}; PRAGMA user_version = ${OUTBOX_SCHEMA_VERSION};`);
    const rows = db.prepare('SELECT id, payload FROM outbox ORDER BY id').all() as { id: number | bigint; payload: Uint8Array }[];
    const messages = rows.map((r) => ({ id: Number(r.id), payload: Buffer.from(r.payload) }));
    const meta = new Map((db.prepare('SELECT key, value FROM meta').all() as { key: string; value: unknown }[]).map((r) => [r.key, r.value]));
    const setMeta = db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
    if (messages.length === 0) {
      // Nothing to resend: a fresh session owes nothing to what any server remembers of the old one.
      const session = randomBytes(16);
      setMeta.run('session', session);
      setMeta.run('reserved', 0);
      return { contents: { session, messages, nextId: 1 }, reserved: 0 };
    }
    const session = meta.get('session');
    if (!(session instanceof Uint8Array) || session.length !== 16) {
      throw invalid(this.path, `it holds ${messages.length} messages but no valid session`, {});
    }
    const lowest = messages[0]!.id;
    const highest = messages.at(-1)!.id;
    // Version 1 kept no high-water mark: no id at or above lowest + MAX_WINDOW can have been sent (the window).
    const saved = meta.has('reserved') ? Number(meta.get('reserved')) : lowest + MAX_WINDOW - 1;
    if (!Number.isSafeInteger(saved) || saved < 0) throw invalid(this.path, `its high-water mark is not an id (${String(meta.get('reserved'))})`, {});
    const reserved = Math.max(saved, highest);
    setMeta.run('reserved', reserved);
    return { contents: { session: Buffer.from(session), messages, nextId: reserved + 1 }, reserved };
  }

  #hasOutboxShape(objects: string[]): boolean {
    if (objects.length !== 2 || objects[0] !== 'meta' || objects[1] !== 'outbox') return false;
    const columns = (table: string) => (this.#db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name).join(',');
    return columns('meta') === 'key,value' && columns('outbox') === 'id,payload';
  }

  #transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      try {
        this.#db.exec('ROLLBACK');
      } catch {
        // SQLite rolled back already (it does on SQLITE_FULL and I/O errors).
      }
      throw error;
    }
  }

  /** A transaction committed with `synchronous = FULL` whatever the durability: on disk before anything relies on it. */
  #durably<T>(fn: () => T): T {
    if (this.durability === 'fsync') return this.#transaction(fn);
    this.#db.exec('PRAGMA synchronous = FULL');
    try {
      return this.#transaction(fn);
    } finally {
      this.#db.exec('PRAGMA synchronous = NORMAL');
    }
  }
}

function sqliteCode(error: unknown): number | undefined {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return typeof code === 'number' ? code & 0xff : undefined;
}

function openError(path: string, error: unknown): BreakwaterError {
  const code = sqliteCode(error);
  if (code === SQLITE_BUSY || code === SQLITE_LOCKED) {
    return new BreakwaterError('BW_ERR_OUTBOX_LOCKED', `the outbox ${path} is open in another client`, { cause: error, details: { path } });
  }
  if (code === SQLITE_NOTADB || code === SQLITE_CORRUPT) return invalid(path, 'it is not a SQLite database, or it is corrupt', {}, error);
  const missing = code === SQLITE_CANTOPEN ? ' (does its directory exist, and may this process create files there?)' : '';
  return new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`outboxPath\` to be a writable SQLite file${missing}, got ${JSON.stringify(path)}`, {
    cause: error,
    details: { key: 'outboxPath' },
  });
}

function invalid(path: string, why: string, details: Record<string, unknown>, cause?: unknown): BreakwaterError {
  return new BreakwaterError('BW_ERR_OUTBOX_INVALID', `${path} cannot be used as an ack outbox: ${why}`, { cause, details: { path, ...details } });
}

function writeError(message: string, id: number, cause: unknown): BreakwaterError {
  return new BreakwaterError('BW_ERR_OUTBOX_WRITE', `${message}: ${cause instanceof Error ? cause.message : String(cause)}`, {
    cause,
    details: { id, sqliteCode: sqliteCode(cause) },
  });
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
