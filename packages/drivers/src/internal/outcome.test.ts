import { BreakwaterError } from '@breakwater/core';
import { describe, expect, it } from 'vitest';
import { isUnsent, markUnsent, outcomeError } from './outcome.js';

const lost = () => new BreakwaterError('BW_ERR_PEER_CLOSED', 'pg: Connection terminated unexpectedly', { details: { host: 'db', driver: 'pg' } });

describe('outcomeError()', () => {
  it('turns a connection lost after sending into BW_ERR_OUTCOME_UNKNOWN with the loss as cause', () => {
    const err = lost();
    const out = outcomeError(err, false) as BreakwaterError;
    expect(out).toMatchObject({
      code: 'BW_ERR_OUTCOME_UNKNOWN',
      retryable: false,
      details: { mayHaveApplied: true, lostWith: 'BW_ERR_PEER_CLOSED', host: 'db' },
    });
    expect(out.cause).toBe(err);
    expect(outcomeError(out, false)).toBe(out);
  });

  it('keeps a deadline a deadline, no longer retryable, with mayHaveApplied', () => {
    const err = new BreakwaterError('BW_ERR_DEADLINE', 'no answer', { retryable: true, cause: new Error('Query read timeout') });
    expect(outcomeError(err, false)).toMatchObject({ code: 'BW_ERR_DEADLINE', retryable: false, details: { mayHaveApplied: true } });
  });

  it('leaves idempotent statements, unsent ones, server replies and other codes alone', () => {
    const err = lost();
    expect(outcomeError(err, true)).toBe(err);
    const unsent = markUnsent(lost());
    expect(isUnsent(unsent)).toBe(true);
    expect(outcomeError(unsent, false)).toBe(unsent);
    const refused = new BreakwaterError('BW_ERR_CONNECT_REFUSED', 'refused');
    expect(isUnsent(refused)).toBe(true);
    expect(outcomeError(refused, false)).toBe(refused);
    const sql = Object.assign(new Error('duplicate key'), { code: '23505' });
    expect(outcomeError(sql, false)).toBe(sql);
    const closed = new BreakwaterError('BW_ERR_CIRCUIT_OPEN', 'open');
    expect(outcomeError(closed, false)).toBe(closed);
  });
});
