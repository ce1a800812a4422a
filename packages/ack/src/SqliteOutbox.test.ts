import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteOutbox } from './SqliteOutbox.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const file = () => {
  const dir = mkdtempSync(join(tmpdir(), 'bw-outbox-'));
  dirs.push(dir);
  return join(dir, 'outbox.sqlite');
};

describe('SqliteOutbox (node:sqlite, no flags)', () => {
  it('keeps the session and unsettled messages across reopening, in id order', () => {
    const path = file();
    const a = new SqliteOutbox(path);
    expect(a.load()).toEqual({ session: undefined, messages: [] });
    a.saveSession(Buffer.alloc(16, 3));
    a.put(2, Buffer.from('two'));
    a.put(1, Buffer.from('one'));
    a.put(3, Buffer.from('three'));
    a.delete(2);
    a.close();
    const b = new SqliteOutbox(path);
    expect(b.load()).toEqual({
      session: Buffer.alloc(16, 3),
      messages: [
        { id: 1, payload: Buffer.from('one') },
        { id: 3, payload: Buffer.from('three') },
      ],
    });
    expect(b.size()).toBe(2);
    b.close();
    b.close();
  });

  it('rejects an unusable path naming the option', () => {
    expect(() => new SqliteOutbox('/nonexistent-dir/x/outbox.sqlite')).toThrow(
      expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'outboxPath' } }),
    );
  });
});
