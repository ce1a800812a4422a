import { BreakwaterError, classify, type ErrorCode, validateBoolean, validateOptionsObject } from '@breakwater/core';

/** Codes that no retry may help, whatever the caller says. */
export const NEVER_RETRIED: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'BW_ERR_CIRCUIT_OPEN',
  'BW_ERR_RETRY_BUDGET',
  'BW_ERR_INVALID_OPTION',
  'BW_ERR_ABORTED',
]);

/**
 * HTTP statuses another attempt may fix (for an idempotent request): 408 and 429 say the request was
 * not processed; 500, 502, 503 and 504 that the server or a proxy failed. Other statuses will fail the
 * same way again. The one list: `retry()`, `isRetryable()` and `@breakwater/http` read it.
 */
export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** `status` or `statusCode` of an error or response-like value, if it has one. */
export function statusOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { status, statusCode } = value as { status?: unknown; statusCode?: unknown };
  const s = typeof status === 'number' ? status : statusCode;
  return typeof s === 'number' && Number.isInteger(s) ? s : undefined;
}

function errnoOf(value: unknown): string | undefined {
  const code = typeof value === 'object' && value !== null ? (value as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The BreakwaterError an error stands for: itself, the classification of its
 * errno code, or of its cause's (undici's `fetch` throws
 * `TypeError('fetch failed')` with the errno on `cause`). Undefined when there
 * is nothing to go on.
 */
export function breakwaterErrorOf(error: unknown): BreakwaterError | undefined {
  if (error instanceof BreakwaterError) return error;
  if (errnoOf(error) !== undefined) return classify(error);
  const cause = typeof error === 'object' && error !== null ? (error as { cause?: unknown }).cause : undefined;
  if (cause instanceof BreakwaterError || errnoOf(cause) !== undefined) return breakwaterErrorOf(cause);
  return undefined;
}

/** `retryAfterMs` carried by an error (own or in `details`), e.g. from a `Retry-After` header. */
export function retryAfterMsOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const own = (error as { retryAfterMs?: unknown }).retryAfterMs;
  const details = (error as { details?: { retryAfterMs?: unknown } }).details;
  const v = own ?? (typeof details === 'object' && details !== null ? details.retryAfterMs : undefined);
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/**
 * Whether another attempt may succeed **and** is safe:
 * - never for BW_ERR_CIRCUIT_OPEN, BW_ERR_RETRY_BUDGET, BW_ERR_INVALID_OPTION,
 *   BW_ERR_ABORTED, or a BreakwaterError whose `retryable` is false;
 * - always for connect-phase failures (`BW_ERR_CONNECT_*`, `details.phase ===
 *   'connect'`): nothing reached the peer;
 * - for failures after the request may have reached the peer (resets, 5xx,
 *   408/429), only when the caller says the operation is `idempotent`;
 * - never for caller aborts, programming errors (a `TypeError` with no network
 *   cause) or errors Breakwater cannot place — pass `retryOn` to widen.
 */
export function isRetryable(error: unknown, options?: { idempotent?: boolean }): boolean {
  const given = validateOptionsObject<{ idempotent?: boolean }>(options, 'isRetryable()', ['idempotent']);
  const idempotent = given.idempotent === undefined ? false : validateBoolean(given.idempotent, 'idempotent');
  if (error instanceof Error && error.name === 'AbortError' && !(error instanceof BreakwaterError)) return false;
  const status = statusOf(error);
  if (status !== undefined && !(error instanceof BreakwaterError)) return RETRYABLE_STATUS.has(status) && idempotent;
  const bw = breakwaterErrorOf(error);
  if (bw === undefined) return false;
  if (NEVER_RETRIED.has(bw.code) || !bw.retryable) return false;
  if (bw.code.startsWith('BW_ERR_CONNECT_') || bw.details.phase === 'connect') return true;
  return idempotent;
}
