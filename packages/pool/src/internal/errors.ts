import { BreakwaterError } from '@breakwater/core';

export function closedError(): BreakwaterError {
  return new BreakwaterError('BW_ERR_CLOSED', 'the pool is draining or drained', {
    hint: 'close() (or destroy(), or the deprecated drain()) was called; create a new pool to connect again.',
  });
}

export interface ExhaustedContext {
  where: string;
  acquireTimeoutMs: number;
  maxWaiting: number;
  stats: { borrowed: number; max: number; waiting: number; connecting: number };
}

export function exhaustedError(why: 'timeout' | 'maxWaiting', c: ExhaustedContext): BreakwaterError {
  const s = c.stats;
  const state = `${s.borrowed} borrowed of max ${s.max}, ${s.waiting} waiting, ${s.connecting} connecting`;
  const message =
    why === 'timeout'
      ? `no connection to ${c.where} within ${c.acquireTimeoutMs} ms (${state})`
      : `too many callers waiting for a connection to ${c.where} (maxWaiting ${c.maxWaiting}; ${state})`;
  return new BreakwaterError('BW_ERR_POOL_EXHAUSTED', message, { details: { reason: why, ...s } });
}
