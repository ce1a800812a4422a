import { BreakwaterError, classify, type ErrorCode } from '@breakwater/core';

/** Codes that say the upstream (or the path to it) is unhealthy. */
export const FAILURE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'BW_ERR_CONNECT_TIMEOUT',
  'BW_ERR_CONNECT_REFUSED',
  'BW_ERR_PEER_UNREACHABLE',
  'BW_ERR_DNS',
  'BW_ERR_TLS',
  'BW_ERR_PEER_RESET',
  'BW_ERR_PEER_CLOSED',
  'BW_ERR_PEER_TIMEOUT',
  'BW_ERR_STALLED',
  'BW_ERR_ACK_TIMEOUT',
  'BW_ERR_DEADLINE',
  'BW_ERR_PROTOCOL',
  'BW_ERR_NETWORK',
]);

function statusOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null || value instanceof BreakwaterError) return undefined;
  const { status, statusCode } = value as { status?: unknown; statusCode?: unknown };
  const s = typeof status === 'number' ? status : statusCode;
  return typeof s === 'number' && Number.isInteger(s) ? s : undefined;
}

function errnoOf(value: unknown): string | undefined {
  const code = typeof value === 'object' && value !== null ? (value as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The default `isFailure`: connection-level errors and 5xx-class outcomes
 * count; client errors (4xx, validation, aborts) and errors with nothing to
 * place them by (no code, no status) do not.
 */
export function defaultIsFailure(outcome: unknown, { threw }: { threw: boolean }): boolean {
  const status = statusOf(outcome);
  if (status !== undefined) return status >= 500;
  if (!threw) return false;
  if (outcome instanceof BreakwaterError) return FAILURE_CODES.has(outcome.code);
  if (outcome instanceof Error && outcome.name === 'TimeoutError') return true;
  // undici's fetch throws TypeError('fetch failed') with the errno on `cause`.
  const cause = typeof outcome === 'object' && outcome !== null ? (outcome as { cause?: unknown }).cause : undefined;
  const source = errnoOf(outcome) !== undefined ? outcome : errnoOf(cause) !== undefined || cause instanceof BreakwaterError ? cause : undefined;
  if (source === undefined) return false;
  const bw = source instanceof BreakwaterError ? source : classify(source);
  return FAILURE_CODES.has(bw.code);
}
