import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientSession } from './ClientSession.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const file = () => {
  const dir = mkdtempSync(join(tmpdir(), 'bw-session-'));
  dirs.push(dir);
  return join(dir, 'outbox.sqlite');
};

describe('ClientSession', () => {
  it('without an outbox: a random session, ids from 1, nothing to recover', () => {
    const a = new ClientSession({ outboxPath: undefined, durability: 'normal' });
    const b = new ClientSession({ outboxPath: undefined, durability: 'normal' });
    expect(a.bytes).toHaveLength(16);
    expect(a.hex).not.toBe(b.hex);
    expect(a.takeRecovered()).toEqual([]);
    expect([a.admit(Buffer.from('x')), a.admit(Buffer.from('y'))]).toEqual([1, 2]);
    expect(a.nextId).toBe(3);
    expect(a.settle(1)).toBeUndefined();
    a.close();
  });

  it('with an outbox: keep() leaves settled messages for the next start, which resumes the session above every id used', () => {
    const path = file();
    const a = new ClientSession({ outboxPath: path, durability: 'normal' });
    a.admit(Buffer.from('one'));
    a.admit(Buffer.from('two'));
    expect(a.settle(1)).toBeUndefined();
    a.keep();
    a.settle(2);
    a.close();
    const b = new ClientSession({ outboxPath: path, durability: 'normal' });
    expect(b.hex).toBe(a.hex);
    expect(b.takeRecovered()).toEqual([{ id: 2, payload: Buffer.from('two') }]);
    expect(b.takeRecovered()).toEqual([]);
    expect(b.nextId).toBeGreaterThan(2);
    b.close();
  });
});
