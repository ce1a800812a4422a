import { BreakwaterError } from '@breakwater/core';

/**
 * Whether `error` is a `send()` rejection caused by a NACK: the server's
 * handler threw. `error.details.reason` is its message and `error.retryable`
 * what the handler said about retrying.
 */
export function isNack(error: unknown): error is BreakwaterError & { details: { nack: true; id: number; reason: string } } {
  return error instanceof BreakwaterError && error.code === 'BW_ERR_NACKED';
}
