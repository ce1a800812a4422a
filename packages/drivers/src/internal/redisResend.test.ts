import { describe, expect, it } from 'vitest';
import { isResendable } from './redisResend.js';

const cmd = (name: string, extra: { inTransaction?: boolean } = {}) => ({ name, args: [], ...extra });

describe('isResendable()', () => {
  it.each([
    ['get', true],
    ['GET', true],
    ['mget', true],
    ['eval_ro', true],
    ['xread', true],
    ['sort_ro', true],
    ['eval', false],
    ['evalsha', false],
    ['incr', false],
    ['blpop', false],
    ['sort', false],
    ['multi', false],
    ['exec', false],
    ['publish', false],
    ['nosuchcommand', false],
  ])('%s -> %s (Redis command table)', (name, expected) => {
    expect(isResendable(cmd(name), undefined)).toBe(expected);
  });

  it('never resends inside a transaction, whatever the predicate says', () => {
    expect(isResendable(cmd('get', { inTransaction: true }), undefined)).toBe(false);
    expect(isResendable(cmd('multi'), () => true)).toBe(false);
  });

  it('follows the isIdempotent predicate, and a throwing one means no', () => {
    expect(isResendable(cmd('eval'), (c) => (c as { name: string }).name === 'eval')).toBe(true);
    expect(isResendable(cmd('get'), () => false)).toBe(false);
    expect(
      isResendable(cmd('get'), () => {
        throw new Error('boom');
      }),
    ).toBe(false);
  });
});
