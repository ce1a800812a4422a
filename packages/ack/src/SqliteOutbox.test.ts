import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { OUTBOX_RESERVED_IDS, SqliteOutbox } from './SqliteOutbox.js';

const dirs: string[] = [];
const open: SqliteOutbox[] = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const file = () => {
  const dir = mkdtempSync(join(tmpdir(), 'bw-outbox-'));
  dirs.push(dir);
  return join(dir, 'outbox.sqlite');
};
const outbox = (path: string, durability?: 'normal' | 'fsync') => {
  const o = new SqliteOutbox(path, durability === undefined ? {} : { durability });
  open.push(o);
  return o;
};
const error = (code: string) => expect.objectContaining({ code });

/** An outbox as @breakwater/ack 0.1.0 wrote it: no application id, no high-water mark. */
function writeVersion1(path: string, session: Buffer | undefined, ids: number[]): void {
  const db = new DatabaseSync(path);
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, payload BLOB NOT NULL);
  `);
  if (session !== undefined) db.prepare("INSERT INTO meta (key, value) VALUES ('session', ?)").run(session);
  for (const id of ids) db.prepare('INSERT INTO outbox (id, payload) VALUES (?, ?)').run(id, Buffer.from(`m${id}`));
  db.close();
}

describe('SqliteOutbox (node:sqlite, no flags)', () => {
  it('keeps the session and unsettled messages across reopening, and new ids start above every id it handed out', () => {
    const path = file();
    const a = new SqliteOutbox(path);
    const first = a.load();
    expect(first).toMatchObject({ messages: [], nextId: 1 });
    expect(first.session).toHaveLength(16);
    a.put(1, Buffer.from('one'));
    a.put(2, Buffer.from('two'));
    a.put(3, Buffer.from('three'));
    a.delete(2);
    a.delete(3);
    a.close();
    a.close();
    const b = outbox(path);
    expect(b.load()).toEqual({
      session: first.session,
      messages: [{ id: 1, payload: Buffer.from('one') }],
      // 3 was handed out (and may have reached a server): never again under this session.
      nextId: 1 + OUTBOX_RESERVED_IDS,
    });
    expect(b.size()).toBe(1);
  });

  it('starts a fresh session at id 1 when nothing is left to resend', () => {
    const path = file();
    const a = new SqliteOutbox(path);
    a.put(1, Buffer.from('one'));
    a.delete(1);
    const old = a.load().session;
    a.close();
    const b = outbox(path).load();
    expect(b.messages).toEqual([]);
    expect(b.nextId).toBe(1);
    expect(b.session.equals(old)).toBe(false);
  });

  it('moves the reservation in the same transaction as the message that crosses it', () => {
    const path = file();
    const a = new SqliteOutbox(path);
    for (let id = 1; id <= OUTBOX_RESERVED_IDS + 2; id++) a.put(id, Buffer.from('x'));
    a.close();
    // The crossing message and the reservation past it are both there.
    expect(outbox(path).load().nextId).toBe(OUTBOX_RESERVED_IDS + 1 + OUTBOX_RESERVED_IDS);
  });

  it('refuses a second client on the same file, and takes it once the first closed', () => {
    const path = file();
    const a = new SqliteOutbox(path);
    expect(() => new SqliteOutbox(path)).toThrow(error('BW_ERR_OUTBOX_LOCKED'));
    a.put(1, Buffer.from('still mine'));
    a.close();
    expect(outbox(path).load().messages).toEqual([{ id: 1, payload: Buffer.from('still mine') }]);
  });

  it("refuses another application's SQLite database and leaves it untouched", () => {
    const path = file();
    const db = new DatabaseSync(path);
    db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada');");
    db.close();
    const before = readFileSync(path);
    expect(() => new SqliteOutbox(path)).toThrow(error('BW_ERR_OUTBOX_INVALID'));
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('refuses a file that is not a database, and a truncated one', () => {
    const junk = file();
    writeFileSync(junk, 'not a database at all\n'.repeat(300));
    expect(() => new SqliteOutbox(junk)).toThrow(error('BW_ERR_OUTBOX_INVALID'));
    const cut = file();
    const a = new SqliteOutbox(cut);
    for (let id = 1; id <= 200; id++) a.put(id, Buffer.alloc(2_000, id));
    a.close();
    writeFileSync(cut, readFileSync(cut).subarray(0, 4_096 + 100));
    expect(() => new SqliteOutbox(cut)).toThrow(error('BW_ERR_OUTBOX_INVALID'));
  });

  it('refuses an outbox written by a newer schema', () => {
    const path = file();
    new SqliteOutbox(path).close();
    const db = new DatabaseSync(path);
    db.exec('PRAGMA user_version = 3');
    db.close();
    expect(() => new SqliteOutbox(path)).toThrow(
      expect.objectContaining({ code: 'BW_ERR_OUTBOX_INVALID', details: expect.objectContaining({ userVersion: 3 }) }),
    );
  });

  it('migrates a version-1 outbox: same session and messages, new ids beyond any window it could have sent', () => {
    const path = file();
    const session = Buffer.alloc(16, 7);
    writeVersion1(path, session, [5, 6, 9]);
    expect(outbox(path).load()).toEqual({
      session,
      messages: [5, 6, 9].map((id) => ({ id, payload: Buffer.from(`m${id}`) })),
      nextId: 5 + 65_536,
    });
    // Migrated for good: the high-water mark is now stored.
    open.pop()!.close();
    expect(outbox(path).load().nextId).toBe(5 + 65_536);
  });

  it('migrates an empty version-1 outbox to a fresh session', () => {
    const path = file();
    const session = Buffer.alloc(16, 7);
    writeVersion1(path, session, []);
    const loaded = outbox(path).load();
    expect(loaded.nextId).toBe(1);
    expect(loaded.session.equals(session)).toBe(false);
  });

  it('refuses a version-1 outbox with messages but no session', () => {
    const path = file();
    writeVersion1(path, undefined, [1]);
    expect(() => new SqliteOutbox(path)).toThrow(error('BW_ERR_OUTBOX_INVALID'));
  });

  it('refuses an outbox whose high-water mark was tampered with', () => {
    const path = file();
    const a = new SqliteOutbox(path);
    a.put(1, Buffer.from('x'));
    a.close();
    const db = new DatabaseSync(path);
    db.exec("UPDATE meta SET value = 'lots' WHERE key = 'reserved'");
    db.close();
    expect(() => new SqliteOutbox(path)).toThrow(error('BW_ERR_OUTBOX_INVALID'));
  });

  it('syncs every commit with durability fsync, and keeps WAL + NORMAL by default', () => {
    expect(outbox(file()).settings()).toEqual({ journalMode: 'wal', synchronous: 1, lockingMode: 'exclusive' });
    const fsync = outbox(file(), 'fsync');
    fsync.put(1, Buffer.from('x'));
    expect(fsync.settings()).toEqual({ journalMode: 'wal', synchronous: 2, lockingMode: 'exclusive' });
  });

  it('rejects an unusable path naming the option', () => {
    expect(() => new SqliteOutbox('/nonexistent-dir/x/outbox.sqlite')).toThrow(
      expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'outboxPath' }, message: expect.stringContaining('directory') }),
    );
  });
});
