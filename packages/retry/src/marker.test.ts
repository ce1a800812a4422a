import { describe, expect, it } from 'vitest';
import { isRetryable, retryAfterMsOf, statusOf } from './isRetryable.js';
import { isRetryRequest, markRetry, parseRetryAfterMs, RETRY_MARKER_HEADER, retryContextFrom } from './marker.js';

const invalid = (key: string) => expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: { key } });

describe('retry marker', () => {
  it('marks a copy of Headers or a plain record, and reads it back', () => {
    const h = new Headers({ accept: 'application/json' });
    const marked = markRetry(h, 2);
    expect(marked).not.toBe(h);
    expect(h.has(RETRY_MARKER_HEADER)).toBe(false);
    expect(marked.get('x-breakwater-retry')).toBe('2');
    expect(isRetryRequest(marked)).toBe(true);
    const record = markRetry({ Accept: 'x', 'X-Breakwater-Retry': '2' }, 3);
    expect(record).toEqual({ Accept: 'x', 'x-breakwater-retry': '3' });
    expect(isRetryRequest(record)).toBe(true);
  });

  it('treats a first attempt, an absent or empty marker as not a retry, and garbage as a retry', () => {
    expect(isRetryRequest({})).toBe(false);
    expect(isRetryRequest(undefined)).toBe(false);
    expect(isRetryRequest({ 'x-breakwater-retry': '' })).toBe(false);
    expect(isRetryRequest({ 'x-breakwater-retry': '1' })).toBe(false);
    expect(isRetryRequest({ 'x-breakwater-retry': ['3', '2'] })).toBe(true);
    expect(isRetryRequest({ 'X-BREAKWATER-RETRY': 'yes' })).toBe(true);
  });

  it('gives a server the retry context of an incoming request', () => {
    expect(retryContextFrom({ headers: { 'x-breakwater-retry': '2' } })).toEqual({ incomingIsRetry: true });
    expect(retryContextFrom({ headers: {} })).toEqual({ incomingIsRetry: false });
  });

  it('rejects bad arguments naming the key', () => {
    expect(() => markRetry({}, 1)).toThrow(invalid('attempt'));
    expect(() => markRetry(null as never, 2)).toThrow(invalid('headers'));
    expect(() => retryContextFrom({} as never)).toThrow(invalid('req'));
    expect(() => parseRetryAfterMs('5', Number.NaN)).toThrow(invalid('nowMs'));
    expect(() => parseRetryAfterMs(5 as never)).toThrow(invalid('value'));
    expect(() => isRetryable(new Error('x'), { idempotent: 'yes' } as never)).toThrow(invalid('idempotent'));
    expect(() => isRetryable(new Error('x'), { idem: true } as never)).toThrow(invalid('idem'));
  });
});

describe('parseRetryAfterMs', () => {
  it('reads delay-seconds and HTTP-dates', () => {
    expect(parseRetryAfterMs('120')).toBe(120_000);
    const now = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');
    expect(parseRetryAfterMs('Wed, 21 Oct 2026 07:28:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfterMs('Wed, 21 Oct 2026 07:27:00 GMT', now)).toBe(0);
    expect(parseRetryAfterMs('soon')).toBeUndefined();
    expect(parseRetryAfterMs(null)).toBeUndefined();
  });
});

describe('isRetryable', () => {
  it('classifies by code, phase, status and idempotency', () => {
    const econnreset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(isRetryable(econnreset)).toBe(false);
    expect(isRetryable(econnreset, { idempotent: true })).toBe(true);
    expect(isRetryable(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isRetryable(Object.assign(new Error('x'), { statusCode: 502 }), { idempotent: true })).toBe(true);
    expect(isRetryable(Object.assign(new Error('x'), { status: 501 }), { idempotent: true })).toBe(false);
    expect(isRetryable(new DOMException('stop', 'AbortError'), { idempotent: true })).toBe(false);
    expect(isRetryable('string', { idempotent: true })).toBe(false);
  });

  it('reads status and retryAfterMs defensively', () => {
    expect(statusOf({ status: 503 })).toBe(503);
    expect(statusOf({ status: '503' })).toBeUndefined();
    expect(statusOf(null)).toBeUndefined();
    expect(retryAfterMsOf({ retryAfterMs: 5 })).toBe(5);
    expect(retryAfterMsOf({ retryAfterMs: -5 })).toBeUndefined();
    expect(retryAfterMsOf({ details: { retryAfterMs: 7 } })).toBe(7);
    expect(retryAfterMsOf(undefined)).toBeUndefined();
  });
});
