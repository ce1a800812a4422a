import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Entry } from './Entry.js';
import { IdleList } from './IdleList.js';

const entry = () => new Entry({}, new net.Socket(), 0, 1_000, 0, () => {});

describe('Entry: the only place a connection changes state', () => {
  it('goes validating → borrowed → validating → idle → validating, and closed from anywhere', async () => {
    const e = entry();
    expect(e.state).toBe('validating');
    e.lend(5);
    expect([e.state, e.borrowedAt]).toEqual(['borrowed', 5]);
    e.takeBack();
    e.rest(7);
    expect([e.state, e.idleSince]).toEqual(['idle', 7]);
    e.check();
    expect(e.state).toBe('validating');
    await e.close('destroyed');
    expect([e.state, e.reason]).toEqual(['closed', 'destroyed']);
  });

  it('refuses a transition the pool never makes (a bug, reported with the connection id)', () => {
    const e = entry();
    expect(() => e.takeBack()).toThrow(/cannot takeBack while validating/);
    e.lend(0);
    expect(() => e.lend(0)).toThrow(/cannot lend while borrowed/);
    expect(() => e.check()).toThrow(/cannot check while borrowed/);
    expect(() => e.rest(0)).toThrow(/cannot rest while borrowed/);
    void e.close('destroyed');
    expect(() => e.check()).toThrow(/cannot check while closed/);
  });
});

describe('IdleList', () => {
  it('lends the least recently returned first and unlinks from anywhere', () => {
    const list = new IdleList();
    const [a, b, c] = [entry(), entry(), entry()];
    list.push(a);
    list.push(b);
    list.push(c);
    list.remove(b);
    expect([...list]).toEqual([a, c]);
    expect(list.shift()).toBe(a);
    list.push(a);
    expect([...list]).toEqual([c, a]);
    // Removing the entry just yielded does not stop the walk.
    for (const e of list) list.remove(e);
    expect([list.length, list.shift()]).toEqual([0, undefined]);
    for (const e of [a, b, c]) void e.close('destroyed');
  });
});
