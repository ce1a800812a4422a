import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { BreakwaterError, validateNumber } from '@breakwater/core';

/**
 * Set on every request that is itself a retry. A Breakwater tier that serves
 * such a request makes one attempt downstream instead of retrying again, so
 * three tiers × three attempts add up (≈ 1.2×) instead of multiplying (27×):
 * only the tier closest to the failure retries (FM-11).
 */
export const RETRY_MARKER_HEADER = 'x-breakwater-retry';

/** The header shapes Breakwater meets: WHATWG `Headers`, Node's incoming headers, a plain record. */
export type HeadersLike = Headers | IncomingHttpHeaders | Readonly<Record<string, string | readonly string[] | number | undefined>>;

function read(headers: HeadersLike): string | undefined {
  if (headers instanceof Headers) return headers.get(RETRY_MARKER_HEADER) ?? undefined;
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== RETRY_MARKER_HEADER || value === undefined) continue;
    return Array.isArray(value) ? value.join(',') : String(value);
  }
  return undefined;
}

/**
 * Whether a request carries the retry marker. The value is the attempt
 * number (2, 3, …); a value that is present but unreadable counts as a retry,
 * since the safe mistake is to retry less.
 */
export function isRetryRequest(headers: HeadersLike | undefined): boolean {
  if (headers === undefined || headers === null) return false;
  const value = read(headers)?.trim();
  if (value === undefined || value === '') return false;
  const attempt = Number(value.split(',')[0]);
  return !Number.isInteger(attempt) || attempt >= 2;
}

/**
 * Headers with the retry marker set to `attempt` (≥ 2). Returns a copy of the
 * same kind; the input is left alone.
 * @example
 * retry(({ attempt, isRetry, signal }) => fetch(url, { signal, headers: isRetry ? markRetry(headers, attempt) : headers }))
 */
export function markRetry<H extends HeadersLike>(headers: H, attempt: number): H {
  validateNumber(attempt, 'attempt', { min: 2, integer: true });
  if (headers instanceof Headers) {
    const copy = new Headers(headers);
    copy.set(RETRY_MARKER_HEADER, String(attempt));
    return copy as H;
  }
  if (typeof headers !== 'object' || headers === null) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `headers` to be a Headers or a plain object', { details: { key: 'headers' } });
  }
  const copy: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() !== RETRY_MARKER_HEADER) copy[name] = value;
  copy[RETRY_MARKER_HEADER] = String(attempt);
  return copy as H;
}

/** What a server learns from an incoming request, ready to spread into `retry()` options. */
export interface RetryContext {
  incomingIsRetry: boolean;
}

/**
 * For a Node `http` server: whether the request being served is a retry.
 * @example
 * http.createServer(async (req, res) => {
 *   const user = await retry(callUsers, { ...retryContextFrom(req), upstream: 'users', idempotent: true });
 * });
 */
export function retryContextFrom(req: Pick<IncomingMessage, 'headers'>): RetryContext {
  if (typeof req !== 'object' || req === null || typeof req.headers !== 'object' || req.headers === null) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `req` to be an http.IncomingMessage', { details: { key: 'req' } });
  }
  return { incomingIsRetry: isRetryRequest(req.headers) };
}

/**
 * Parses a `Retry-After` header (delay-seconds or an HTTP-date) into ms, or
 * undefined when absent or unreadable. An HTTP-date is wall-clock time by
 * definition, so `nowMs` is the wall clock; the result is then slept on the
 * monotonic clock.
 */
export function parseRetryAfterMs(value: string | null | undefined, nowMs: number = Date.now()): number | undefined {
  validateNumber(nowMs, 'nowMs');
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `value` to be a string', { details: { key: 'value' } });
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
