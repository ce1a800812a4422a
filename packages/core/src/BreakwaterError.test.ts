import { describe, expect, it } from 'vitest';
import { BreakwaterError, isBreakwaterError } from './BreakwaterError.js';
import { ERROR_CODES, isErrorCode } from './codes.js';

describe('BreakwaterError', () => {
  it('takes retryable and hint from the code unless overridden', () => {
    const e = new BreakwaterError('BW_ERR_CONNECT_TIMEOUT', 'connect timed out');
    expect(e.code).toBe('BW_ERR_CONNECT_TIMEOUT');
    expect(e.retryable).toBe(true);
    expect(e.hint).toMatch(/SYN/);
    const o = new BreakwaterError('BW_ERR_CONNECT_TIMEOUT', 'x', { retryable: false, hint: 'custom' });
    expect(o.retryable).toBe(false);
    expect(o.hint).toBe('custom');
  });

  it('keeps the cause and context details', () => {
    const cause = Object.assign(new Error('boom'), { code: 'ECONNRESET' });
    const e = new BreakwaterError('BW_ERR_PEER_RESET', 'reset', { cause, details: { host: 'a', port: 1 } });
    expect(e.cause).toBe(cause);
    expect(e.details).toEqual({ host: 'a', port: 1 });
    expect(Object.isFrozen(e.details)).toBe(true);
    expect(e.toJSON()).toMatchObject({ code: 'BW_ERR_PEER_RESET', cause: { code: 'ECONNRESET' } });
  });

  it('is recognised across copies of the package through a global brand', () => {
    // A structurally separate object carrying the brand, as another copy of core would create.
    const foreign = Object.defineProperty(new Error('x'), Symbol.for('breakwater.error'), { value: true });
    expect(foreign instanceof BreakwaterError).toBe(true);
    expect(new Error('plain') instanceof BreakwaterError).toBe(false);
    expect((null as unknown) instanceof BreakwaterError).toBe(false);
    expect(isBreakwaterError(new BreakwaterError('BW_ERR_DEADLINE', 'd'), 'BW_ERR_DEADLINE')).toBe(true);
    expect(isBreakwaterError(new BreakwaterError('BW_ERR_DEADLINE', 'd'), 'BW_ERR_STALLED')).toBe(false);
  });

  it('is an Error with the name BreakwaterError and a stack', () => {
    const e = new BreakwaterError('BW_ERR_STALLED', 'stalled');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('BreakwaterError');
    expect(e.stack).toContain('BreakwaterError');
  });

  it('has codes that all follow BW_ERR_* with a summary and hint', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^BW_ERR_[A-Z_]+$/);
      expect(spec.summary.length).toBeGreaterThan(10);
      expect(spec.hint.length).toBeGreaterThan(10);
      expect(isErrorCode(code)).toBe(true);
    }
    expect(isErrorCode('BW_ERR_NOPE')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
  });
});
